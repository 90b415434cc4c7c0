// The generated client completes the README's card payment against a live
// `payments serve` (local mode: SQLite in a temporary directory, the fake PGs
// in-process), started here on free ports and stopped at the end.
//
// The binary is target/debug/payments (`cargo build -p payments`), or
// PAYMENTS_BIN.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { setTimeout as delay } from "node:timers/promises";

import { cardPaymentFlow, savedCardChargeFlow, startWebhookReceiver, type WebhookReceiver } from "../examples/card-payment.js";
import { createPaymentsClient, type PaymentsClient } from "../src/index.js";

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const binary = process.env.PAYMENTS_BIN ?? path.resolve(packageRoot, "..", "..", "target", "debug", "payments");

// Keys of our own choosing rather than the built-in development ones.
const keys = {
  key: "sdk-test-connection-key-32bytes!",
  iv: "sdk-test-iv-16by",
  secret: `whsec_${Buffer.from("sdk-test-webhook-secret-of-32-bytes").toString("base64")}`,
};

/** A port nobody listens on right now (bound then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

let server: ChildProcess;
let exited: Promise<[number | null, NodeJS.Signals | null]>;
let logs = "";
let dataDir: string;
let baseUrl: string;
let tossUrl: string;
let client: PaymentsClient;
let receiver: WebhookReceiver;

async function waitUntilHealthy(deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let last = "";
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`payments serve exited (${server.exitCode ?? server.signalCode}) before serving:\n${logs}`);
    }
    try {
      const { response } = await client.GET("/monitors/health", { signal: AbortSignal.timeout(1000) });
      if (response.status === 200) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = String(error);
    }
    await delay(100);
  }
  throw new Error(`payments serve was not healthy within ${deadlineMs} ms (${last}):\n${logs}`);
}

before(async () => {
  assert.ok(existsSync(binary), `${binary} is missing: build it with \`cargo build -p payments\` (or set PAYMENTS_BIN)`);
  dataDir = await mkdtemp(path.join(tmpdir(), "payments-sdk-test-"));
  const [apiPort, iamportPort, tossPort] = [await freePort(), await freePort(), await freePort()];
  baseUrl = `http://127.0.0.1:${apiPort}`;
  tossUrl = `http://127.0.0.1:${tossPort}`;
  server = spawn(binary, ["serve"], {
    cwd: dataDir,
    env: {
      PATH: process.env.PATH ?? "",
      PAYMENT_MODE: "local",
      PAYMENT_API_PORT: String(apiPort),
      PAYMENT_METRICS_ADDR: "127.0.0.1:0",
      PAYMENT_ADMIN_ADDR: "127.0.0.1:0",
      PAYMENT_FAKE_IAMPORT_PORT: String(iamportPort),
      PAYMENT_FAKE_TOSS_PORT: String(tossPort),
      PAYMENT_FAKE_PORTONE_PORT: "0",
      PAYMENT_DATABASE_URL: `sqlite://${path.join(dataDir, "p.db")}`,
      PAYMENT_CONNECTION_ENCRYPTION_KEY: keys.key,
      PAYMENT_CONNECTION_ENCRYPTION_IV: keys.iv,
      PAYMENT_WEBHOOK_SECRET: keys.secret,
      PAYMENT_WEBHOOK_POLL_MS: "100",
      PAYMENT_ARGON2_MEMORY_KIB: "256",
      PAYMENT_ARGON2_ITERATIONS: "1",
      PAYMENT_LOG: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  exited = once(server, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const keep = (chunk: Buffer) => {
    logs = (logs + chunk.toString("utf8")).slice(-20000);
  };
  server.stdout?.on("data", keep);
  server.stderr?.on("data", keep);
  client = createPaymentsClient({ baseUrl, key: keys.key, iv: keys.iv });
  receiver = await startWebhookReceiver(keys);
  await waitUntilHealthy(60_000);
}, { timeout: 90_000 });

after(async () => {
  await receiver?.close();
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill("SIGTERM");
    const timeout = delay(15_000, undefined, { ref: false }).then(() => "timeout" as const);
    const outcome = await Promise.race([exited, timeout]);
    if (outcome === "timeout") {
      server.kill("SIGKILL");
      assert.fail(`payments serve did not exit within 15 s of SIGTERM:\n${logs}`);
    }
    const [code, signal] = outcome;
    assert.ok(code === 0 || signal === "SIGTERM", `payments serve exited with ${code ?? signal}:\n${logs}`);
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, { timeout: 30_000 });

test("the card payment of the walkthrough, through the generated client", { timeout: 60_000 }, async () => {
  const outcome = await cardPaymentFlow(client, tossUrl, receiver);
  const { created, readBySource, readById, cancelled, webhook } = outcome;

  assert.equal(created.vendor.code, "toss.payments");
  assert.equal(created.vendor_code, "toss.payments");
  assert.equal(created.vendor.uid, outcome.paymentKey);
  assert.deepEqual(created.source, outcome.source);
  assert.equal(created.price, 20000);
  assert.equal(created.currency, "KRW");
  assert.equal(created.refund, null);
  assert.equal(created.cancelled_at, null);
  assert.ok(created.paid_at, "the server confirmed the authenticated payment: it is paid");
  assert.equal((created.data as { status?: string }).status, "DONE", "confirmed at Toss");
  assert.deepEqual(created.cancels, []);

  assert.deepEqual(readBySource, created);
  assert.deepEqual(readById, created);

  assert.equal(outcome.wrongPassword.status, 403);
  assert.equal(outcome.wrongPassword.error.code, "WRONG_PASSWORD");
  assert.equal(typeof outcome.wrongPassword.error.message, "string");

  assert.equal(cancelled.id, created.id);
  assert.equal(cancelled.refund, 10000);
  assert.equal(cancelled.cancels.length, 1);
  assert.equal(cancelled.cancels[0]?.price, 10000);
  assert.equal(cancelled.cancels[0]?.reason, "half back");
  assert.ok(cancelled.cancelled_at);

  assert.deepEqual(webhook.body.source, outcome.source);
  assert.equal(webhook.body.current.id, created.id);
  assert.ok(webhook.body.previous, "a change of a registered payment has its previous state");
  assert.equal(webhook.body.previous.refund, null);
  assert.equal(webhook.body.current.refund, 10000);
  assert.equal(webhook.body.current.cancels.length, 1);
  assert.deepEqual(receiver.refused, []);
});

test("a retried cancel with the same Idempotency-Key refunds once", { timeout: 30_000 }, async () => {
  const outcome = await cardPaymentFlow(client, tossUrl, receiver);
  const body = { source: outcome.source, password: "a-secret-of-ours", price: 5000, reason: "retry", account: null };
  const headers = { "Idempotency-Key": `retry-${outcome.source.id}` };
  const first = await client.PUT("/payments/histories/cancel", { params: { header: headers }, body });
  const again = await client.PUT("/payments/histories/cancel", { params: { header: headers }, body });
  assert.equal(first.data?.refund, 15000);
  assert.deepEqual(again.data, first.data);
});

test("a saved card charged, and a retried charge charges once", { timeout: 30_000 }, async () => {
  const { reservation, charged, retried } = await savedCardChargeFlow(client, tossUrl, receiver);
  assert.equal(reservation.vendor.code, "toss.payments");
  assert.equal(charged.price, 9900);
  assert.equal(charged.reservation_id, reservation.id);
  assert.ok(charged.paid_at, "a billing charge is paid at once");
  assert.equal((charged.data as { type?: string }).type, "BILLING");
  assert.deepEqual(retried, charged);
});

test("encrypted monitors decrypt; errors stay plain JSON", { timeout: 30_000 }, async () => {
  const system = await client.GET("/monitors/system");
  assert.ok(system.data, JSON.stringify(system.error));
  assert.equal(system.data.package.name, "payments");
  assert.match(system.data.uid, /^[0-9a-f-]{36}$/);

  const missing = await client.PATCH("/payments/histories/get", {
    body: { schema: "shop", table: "orders", id: "no-such-order", password: "x" },
  });
  assert.equal(missing.response.status, 404);
  assert.equal(missing.error?.code, "RECORD_NOT_FOUND");

  // A client with another key is refused with a readable 400, not a crash.
  const stranger = createPaymentsClient({ baseUrl, key: "another-connection-key-32-bytes!", iv: keys.iv });
  const refused = await stranger.PATCH("/payments/histories/get", {
    body: { schema: "shop", table: "orders", id: "x", password: "x" },
  });
  assert.equal(refused.response.status, 400);
  assert.equal(refused.error?.code, "INVALID_BODY");
});
