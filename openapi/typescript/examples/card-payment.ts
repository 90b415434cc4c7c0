/**
 * The card payment of the README walkthrough ("Your first five minutes"), with
 * the generated client:
 * a card payment made at (the fake) Toss Payments is registered, read back
 * twice, partly cancelled, and the change arrives as a signed, encrypted
 * webhook that is verified and decrypted.
 *
 * Against a server started with `cargo run -p payments -- serve` (local mode,
 * its built-in development keys):
 *
 *     npm run example
 *
 * PAYMENTS_URL, PAYMENTS_TOSS_URL, PAYMENT_CONNECTION_ENCRYPTION_KEY/_IV and
 * PAYMENT_WEBHOOK_SECRET override the local defaults.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";

import {
  createPaymentsClient,
  type ErrorBody,
  type PaymentHistory,
  type PaymentReservation,
  type PaymentsClient,
  type Source,
  type VerifiedWebhook,
  WebhookVerifier,
  type WebhookVerifierOptions,
} from "../src/index.js";

/** The development keys of `payments serve` in local mode (bootstrap/src/config.rs). */
export const LOCAL_KEYS = {
  key: "local-dev-connection-key-32-byte",
  iv: "local-dev-iv-16b",
  secret: "whsec_bG9jYWwtZGV2LXdlYmhvb2stc2VjcmV0LTMyYnl0ZXM=",
} as const;

/** The secret key the fake Toss Payments of local mode accepts. */
export const FAKE_TOSS_SECRET_KEY = "test_ak_ZORzdMaqN3wQd5k6ygr5AkYXQGwy";

/** A tiny HTTP server that takes the payments server's webhooks. */
export interface WebhookReceiver {
  /** Where the payment's `webhook_url` points. */
  url: string;
  /** The next verified webhook that `match` accepts (waits for it). */
  next(match?: (webhook: VerifiedWebhook) => boolean): Promise<VerifiedWebhook>;
  /** Webhooks refused because they did not verify. */
  refused: Error[];
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Starts a webhook receiver on 127.0.0.1 (port 0 unless given). */
export async function startWebhookReceiver(options: WebhookVerifierOptions, port = 0): Promise<WebhookReceiver> {
  const verifier = new WebhookVerifier(options);
  const received: VerifiedWebhook[] = [];
  type Waiter = { match: (webhook: VerifiedWebhook) => boolean; resolve: (webhook: VerifiedWebhook) => void };
  const waiting: Waiter[] = [];
  const refused: Error[] = [];
  const seen = new Set<string>();
  const server = createServer((request, response) => {
    readBody(request)
      .then((body) => {
        const webhook = verifier.verify(request.headers, body);
        response.writeHead(200).end();
        if (seen.has(webhook.id)) return; // a retry of a webhook already taken
        seen.add(webhook.id);
        const waiter = waiting.findIndex(({ match }) => match(webhook));
        if (waiter >= 0) waiting.splice(waiter, 1)[0]?.resolve(webhook);
        else received.push(webhook);
      })
      .catch((error: unknown) => {
        refused.push(error instanceof Error ? error : new Error(String(error)));
        response.writeHead(400).end();
      });
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/payments/webhook`,
    refused,
    next: (match = () => true) => {
      const index = received.findIndex(match);
      if (index >= 0) return Promise.resolve(received.splice(index, 1)[0] as VerifiedWebhook);
      return new Promise((resolve) => waiting.push({ match, resolve }));
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/**
 * Authenticates a card payment of `amount` at the (fake) Toss Payments, as the customer does in its window:
 * the payment stays IN_PROGRESS (not charged) until the server confirms it at registration. Answers the paymentKey.
 */
export async function payByCardAtToss(tossUrl: string, amount: number, orderId: string): Promise<string> {
  const response = await fetch(`${tossUrl}/v1/payments/key-in`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${FAKE_TOSS_SECRET_KEY}:`).toString("base64")}`,
      "Content-Type": "application/json",
    },
    body: JSON.stringify({
      method: "card",
      cardNumber: "1111222233334444",
      cardExpirationYear: "30",
      cardExpirationMonth: "12",
      amount,
      orderId,
      orderName: "A book",
      // The fake's switch: leave it authenticated but unconfirmed, as the real window does.
      __approved: false,
    }),
  });
  const payment = (await response.json()) as { paymentKey?: string };
  if (!response.ok || typeof payment.paymentKey !== "string") {
    throw new Error(`Toss key-in answered ${response.status}: ${JSON.stringify(payment)}`);
  }
  return payment.paymentKey;
}

/** What the flow saw, for callers (and the test) to check. */
export interface CardPaymentOutcome {
  source: Source;
  paymentKey: string;
  created: PaymentHistory;
  readBySource: PaymentHistory;
  readById: PaymentHistory;
  cancelled: PaymentHistory;
  wrongPassword: { status: number; error: ErrorBody };
  webhook: VerifiedWebhook;
}

function fail(what: string, response: Response, error: unknown): never {
  throw new Error(`${what} answered ${response.status}: ${JSON.stringify(error)}`);
}

/** The walkthrough: pay, register, read, read by id, partly cancel, receive the webhook. */
export async function cardPaymentFlow(
  client: PaymentsClient,
  tossUrl: string,
  receiver: WebhookReceiver,
): Promise<CardPaymentOutcome> {
  const source: Source = { schema: "shop", table: "orders", id: `order-${randomUUID()}` };
  const password = "a-secret-of-ours";

  // 1. The customer pays 20,000 KRW by card in the Toss popup.
  const paymentKey = await payByCardAtToss(tossUrl, 20000, source.id);

  // 2. Register it: the server reads it from Toss and checks the amount.
  const created = await client.POST("/payments/histories", {
    params: { header: { "Idempotency-Key": `create-${source.id}` } },
    body: {
      vendor: { code: "toss.payments", store_id: "my-store", uid: paymentKey },
      source,
      price: 20000,
      password,
      webhook_url: receiver.url,
    },
  });
  if (!created.data) fail("createHistory", created.response, created.error);

  // 3. Read it back by our own record, then by its id.
  const bySource = await client.PATCH("/payments/histories/get", { body: { ...source, password } });
  if (!bySource.data) fail("getHistory", bySource.response, bySource.error);
  const byId = await client.PATCH("/payments/histories/{id}", {
    params: { path: { id: created.data.id } },
    body: { password },
  });
  if (!byId.data) fail("getHistoryById", byId.response, byId.error);

  // Errors are typed too (ErrorBody), and never encrypted.
  const denied = await client.PATCH("/payments/histories/{id}", {
    params: { path: { id: created.data.id } },
    body: { password: "not-the-password" },
  });
  if (!denied.error) throw new Error("a wrong password was accepted");

  // 4. Cancel half of it.
  const cancelled = await client.PUT("/payments/histories/cancel", {
    params: { header: { "Idempotency-Key": `cancel-${source.id}-1` } },
    body: { source, password, price: 10000, reason: "half back", account: null },
  });
  if (!cancelled.data) fail("cancelHistory", cancelled.response, cancelled.error);

  // 5. The change arrives at webhook_url, signed and encrypted.
  const historyId = created.data.id;
  const webhook = await receiver.next(({ body }) => body.current.id === historyId && body.current.cancels.length > 0);

  return {
    source,
    paymentKey,
    created: created.data,
    readBySource: bySource.data,
    readById: byId.data,
    cancelled: cancelled.data,
    wrongPassword: { status: denied.response.status, error: denied.error },
    webhook,
  };
}

/** Saves a card at the (fake) Toss Payments for `customerKey`, as its card-registration window does. Answers the billing key. */
export async function saveCardAtToss(tossUrl: string, customerKey: string): Promise<string> {
  const response = await fetch(`${tossUrl}/v1/billing/authorizations/card`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${FAKE_TOSS_SECRET_KEY}:`).toString("base64")}`,
      "Content-Type": "application/json",
    },
    body: JSON.stringify({
      cardNumber: "4330123412341234",
      cardExpirationYear: "30",
      cardExpirationMonth: "12",
      cardPassword: "00",
      customerBirthday: "880101",
      customerKey,
    }),
  });
  const billing = (await response.json()) as { billingKey?: string };
  if (!response.ok || typeof billing.billingKey !== "string") {
    throw new Error(`Toss card registration answered ${response.status}: ${JSON.stringify(billing)}`);
  }
  return billing.billingKey;
}

/** What the saved-card flow saw. */
export interface SavedCardOutcome {
  reservation: PaymentReservation;
  charged: PaymentHistory;
  retried: PaymentHistory;
}

/** A saved card: register it, then charge it (a retry with the same Idempotency-Key charges once). */
export async function savedCardChargeFlow(
  client: PaymentsClient,
  tossUrl: string,
  receiver: WebhookReceiver,
): Promise<SavedCardOutcome> {
  const customer: Source = { schema: "shop", table: "customers", id: `customer-${randomUUID()}` };
  const password = "a-secret-of-ours";
  const billingKey = await saveCardAtToss(tossUrl, customer.id);
  const reservation = await client.POST("/payments/reservations", {
    params: { header: { "Idempotency-Key": `save-${customer.id}` } },
    body: { vendor: { code: "toss.payments", store_id: "my-store", uid: billingKey }, source: customer, title: "monthly plan", password },
  });
  if (!reservation.data) fail("createReservation", reservation.response, reservation.error);

  const order: Source = { schema: "shop", table: "orders", id: `order-${randomUUID()}` };
  const charge = {
    params: { path: { id: reservation.data.id }, header: { "Idempotency-Key": `charge-${order.id}` } },
    body: { password, source: order, price: 9900, title: "monthly plan, December", webhook_url: receiver.url },
  };
  const charged = await client.POST("/payments/reservations/{id}/charge", charge);
  if (!charged.data) fail("chargeReservation", charged.response, charged.error);
  // A retry after a lost answer: the same key answers the same payment, charged once.
  const retried = await client.POST("/payments/reservations/{id}/charge", charge);
  if (!retried.data) fail("chargeReservation (retry)", retried.response, retried.error);
  return { reservation: reservation.data, charged: charged.data, retried: retried.data };
}

async function main(): Promise<void> {
  const env = process.env;
  const keys = {
    key: env.PAYMENT_CONNECTION_ENCRYPTION_KEY ?? LOCAL_KEYS.key,
    iv: env.PAYMENT_CONNECTION_ENCRYPTION_IV ?? LOCAL_KEYS.iv,
    secret: env.PAYMENT_WEBHOOK_SECRET ?? LOCAL_KEYS.secret,
  };
  const client = createPaymentsClient({ baseUrl: env.PAYMENTS_URL ?? "http://127.0.0.1:37821", ...keys });
  const receiver = await startWebhookReceiver(keys);
  try {
    const outcome = await cardPaymentFlow(client, env.PAYMENTS_TOSS_URL ?? "http://127.0.0.1:30771", receiver);
    console.log(`registered ${outcome.created.id}: ${outcome.created.price} ${outcome.created.currency}`);
    console.log(`wrong password: ${outcome.wrongPassword.status} ${outcome.wrongPassword.error.code}`);
    console.log(`refunded ${outcome.cancelled.refund} (${outcome.cancelled.cancels.length} cancel)`);
    console.log(`webhook ${outcome.webhook.id}: refund ${outcome.webhook.body.previous?.refund ?? "(new)"} -> ${outcome.webhook.body.current.refund}`);
    const saved = await savedCardChargeFlow(client, env.PAYMENTS_TOSS_URL ?? "http://127.0.0.1:30771", receiver);
    console.log(`saved card ${saved.reservation.id} charged ${saved.charged.price}: payment ${saved.charged.id}`);
  } finally {
    await receiver.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
