// The webhook verifier and the wire cipher, without a server.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";

import {
  encryptedOperations,
  isEncryptedOperation,
  type PaymentHistorySnapshot,
  type WebhookBody,
  WebhookVerificationError,
  WebhookVerifier,
  WireCipher,
} from "../src/index.js";

const keys = {
  key: "local-dev-connection-key-32-byte",
  iv: "local-dev-iv-16b",
  secret: "whsec_bG9jYWwtZGV2LXdlYmhvb2stc2VjcmV0LTMyYnl0ZXM=",
};
const now = 1_760_000_000;

function sign(id: string, timestamp: number, body: string, secret = keys.secret): string {
  const bytes = Buffer.from(secret.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", bytes).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

const snapshot: PaymentHistorySnapshot = {
  id: "7d1f4a36-2a7c-4a59-9a53-0d3f3f0f8d11",
  vendor_code: "toss.payments",
  vendor: { code: "toss.payments", store_id: "s", uid: "pk" },
  data: {},
  currency: "KRW",
  price: 1000,
  refund: null,
  webhook_url: "http://127.0.0.1/hook",
  created_at: "2026-01-01T00:00:00.000Z",
  paid_at: "2026-01-01T00:00:00.000Z",
  cancelled_at: null,
  cancels: [],
};
const event = {
  id: "0b8f3d0e-8f5e-4d55-a0a5-8b1f9f3c2e77",
  source: { schema: "shop", table: "orders", id: "1" },
  previous: snapshot,
  current: snapshot,
} satisfies WebhookBody;

test("the cipher matches the server's (AES-256-CBC, PKCS#7, base64) and round-trips", () => {
  const cipher = new WireCipher(keys);
  assert.equal(cipher.decrypt(cipher.encrypt('{"a":"한글"}')), '{"a":"한글"}');
  // 16-byte key: AES-128.
  const short = new WireCipher({ key: "0123456789abcdef", iv: keys.iv });
  assert.equal(short.decrypt(short.encrypt("x")), "x");
  assert.throws(() => new WireCipher({ key: "short", iv: keys.iv }), RangeError);
  assert.throws(() => new WireCipher({ key: keys.key, iv: "short" }), RangeError);
});

test("a signed webhook verifies and decrypts", () => {
  const verifier = new WebhookVerifier({ ...keys, now: () => now * 1000 });
  const body = new WireCipher(keys).encrypt(JSON.stringify(event));
  const headers = { "webhook-id": event.id, "webhook-timestamp": String(now), "webhook-signature": sign(event.id, now, body) };
  const verified = verifier.verify(headers, body);
  assert.equal(verified.id, event.id);
  assert.equal(verified.timestamp, now);
  assert.deepEqual(verified.body, event);
  // Several signatures (secret rotation): any valid one is enough; Fetch Headers work too.
  const rotated = new Headers({ ...headers, "webhook-signature": `v1,AAAA ${headers["webhook-signature"]}` });
  assert.equal(verifier.verify(rotated, body).id, event.id);
});

test("forged, tampered, stale or unsigned webhooks are refused", () => {
  const verifier = new WebhookVerifier({ ...keys, now: () => now * 1000 });
  const body = new WireCipher(keys).encrypt(JSON.stringify(event));
  const good = { "webhook-id": event.id, "webhook-timestamp": String(now), "webhook-signature": sign(event.id, now, body) };
  const other = `whsec_${Buffer.from("another-secret-of-at-least-24-bytes").toString("base64")}`;
  const cases: Record<string, [Record<string, string>, string]> = {
    "another secret": [{ ...good, "webhook-signature": sign(event.id, now, body, other) }, body],
    "tampered body": [good, new WireCipher(keys).encrypt(JSON.stringify({ ...event, id: "x" }))],
    "another id": [{ ...good, "webhook-id": "another" }, body],
    stale: [{ ...good, "webhook-timestamp": String(now - 3600), "webhook-signature": sign(event.id, now - 3600, body) }, body],
    unsigned: [{ "webhook-id": event.id, "webhook-timestamp": String(now) }, body],
  };
  for (const [name, [headers, payload]] of Object.entries(cases)) {
    assert.throws(() => verifier.verify(headers, payload), WebhookVerificationError, name);
  }
});

test("the encrypted operations come from the document's x-encrypted", () => {
  assert.ok(isEncryptedOperation("POST", "/payments/histories"));
  assert.ok(isEncryptedOperation("patch", "/payments/histories/{id}"));
  assert.ok(!isEncryptedOperation("GET", "/monitors/health"));
  assert.ok(!isEncryptedOperation("POST", "/payments/webhooks/toss"));
  assert.ok(isEncryptedOperation("POST", "/payments/reservations/{id}/charge"));
  assert.ok(isEncryptedOperation("POST", "/payments/orders"));
  assert.ok(isEncryptedOperation("GET", "/payments/events"), "an answer sealed, no body");
  // 9 payment and card operations, 2 order ones, 2 event ones, 2 monitors.
  assert.equal(encryptedOperations.length, 15);
});
