import { createHmac, timingSafeEqual } from "node:crypto";

import { type ConnectionKey, WireCipher } from "./cipher.js";
import type { WebhookBody } from "./generated/schema.js";

/** Why an incoming webhook was refused. */
export class WebhookVerificationError extends Error {
  override name = "WebhookVerificationError";
}

/** What verifying a webhook needs. */
export interface WebhookVerifierOptions extends ConnectionKey {
  /** The server's `PAYMENT_WEBHOOK_SECRET`: `whsec_` + base64. */
  secret: string;
  /** Largest accepted distance between `webhook-timestamp` and now, seconds (default 300). */
  toleranceSeconds?: number;
  /** The clock, in milliseconds (default `Date.now`). */
  now?: () => number;
}

/** Headers as Fetch (`Headers`) or node:http (`IncomingHttpHeaders`) give them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/** A verified and decrypted webhook. */
export interface VerifiedWebhook {
  /** `webhook-id`: the event id, the same on every retry (de-duplicate on it). */
  id: string;
  /** `webhook-timestamp`, seconds since the epoch. */
  timestamp: number;
  /** The decrypted body. */
  body: WebhookBody;
}

function header(headers: WebhookHeaders, name: string): string {
  const value = headers instanceof Headers ? headers.get(name) : headers[name] ?? headers[name.toLowerCase()];
  const text = Array.isArray(value) ? value.join(" ") : value;
  if (text === undefined || text === null || text === "") {
    throw new WebhookVerificationError(`the ${name} header is missing`);
  }
  return text;
}

function secretBytes(secret: string): Buffer {
  const encoded = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  const bytes = Buffer.from(encoded, "base64");
  if (bytes.length === 0) throw new RangeError("the webhook secret must be whsec_ followed by base64");
  return bytes;
}

/**
 * Verifies incoming webhooks of the payments server (Standard Webhooks:
 * `webhook-signature` = `v1,` base64 HMAC-SHA256 of `id.timestamp.body` with
 * the secret's bytes) and decrypts their body with the connection key.
 */
export class WebhookVerifier {
  readonly #secret: Buffer;
  readonly #cipher: WireCipher;
  readonly #toleranceSeconds: number;
  readonly #now: () => number;

  constructor(options: WebhookVerifierOptions) {
    this.#secret = secretBytes(options.secret);
    this.#cipher = new WireCipher(options);
    this.#toleranceSeconds = options.toleranceSeconds ?? 300;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Checks the signature and the timestamp of a webhook, then decrypts it.
   * `body` is the raw request body, exactly as received.
   * @throws WebhookVerificationError when the webhook is not authentic or too old.
   */
  verify(headers: WebhookHeaders, body: string): VerifiedWebhook {
    const id = header(headers, "webhook-id");
    const timestampText = header(headers, "webhook-timestamp");
    const signatures = header(headers, "webhook-signature");
    if (!/^\d+$/.test(timestampText)) throw new WebhookVerificationError("webhook-timestamp is not a number");
    const timestamp = Number(timestampText);
    const drift = Math.abs(this.#now() / 1000 - timestamp);
    if (drift > this.#toleranceSeconds) {
      throw new WebhookVerificationError(`webhook-timestamp is ${Math.round(drift)} s away from now`);
    }
    const expected = createHmac("sha256", this.#secret).update(`${id}.${timestampText}.${body}`).digest();
    const valid = signatures.split(" ").some((entry) => {
      const [version, signature] = entry.split(",", 2);
      if (version !== "v1" || signature === undefined) return false;
      const given = Buffer.from(signature, "base64");
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
    if (!valid) throw new WebhookVerificationError("no valid v1 signature in webhook-signature");
    let decoded: WebhookBody;
    try {
      decoded = JSON.parse(this.#cipher.decrypt(body)) as WebhookBody;
    } catch (cause) {
      throw new WebhookVerificationError("the body could not be decrypted with the connection key", { cause });
    }
    if (decoded.id !== id) throw new WebhookVerificationError("the body's id is not webhook-id");
    return { id, timestamp, body: decoded };
  }
}

/** One-shot form of {@link WebhookVerifier.verify}. */
export function verifyWebhook(headers: WebhookHeaders, body: string, options: WebhookVerifierOptions): VerifiedWebhook {
  return new WebhookVerifier(options).verify(headers, body);
}
