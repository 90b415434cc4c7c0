/**
 * TypeScript client of the payments server.
 *
 * The types (`paths`, `components`, `operations` and one alias per component
 * schema) are generated from openapi/payments.json by openapi-typescript
 * (`npm run generate`); the client is openapi-fetch. What a generator cannot
 * know is here: the encryption of the operations marked `x-encrypted`, and
 * the verification of incoming webhooks.
 */
import createClient, { type Client, type ClientOptions } from "openapi-fetch";

import type { ConnectionKey } from "./cipher.js";
import { encryptionMiddleware } from "./encryption.js";
import type { paths } from "./generated/schema.js";

export * from "./generated/schema.js";
export { ENCRYPTED_OPERATIONS, type EncryptedOperation } from "./generated/encrypted-operations.js";
export { type ConnectionKey, ENCRYPTED_CONTENT_TYPE, type KeyMaterial, WireCipher } from "./cipher.js";
export { encryptedOperations, encryptionMiddleware, isEncryptedOperation } from "./encryption.js";
export {
  type VerifiedWebhook,
  verifyWebhook,
  type WebhookHeaders,
  WebhookVerificationError,
  WebhookVerifier,
  type WebhookVerifierOptions,
} from "./webhooks.js";

/** The typed client of the payments server. */
export type PaymentsClient = Client<paths>;

/**
 * Where the server is and the wire key: a client's own (`payments clients
 * add` prints it with its API key), or, without `apiKey`, the server's
 * connection key (the legacy client).
 */
export interface PaymentsClientOptions extends ClientOptions, ConnectionKey {
  /** e.g. `http://127.0.0.1:37821`. */
  baseUrl: string;
  /** A client's API key (`pk_live_...`/`pk_test_...`), sent as `Authorization: Bearer`. */
  apiKey?: string;
}

/**
 * An openapi-fetch client of the payments server with the encryption
 * middleware installed: encrypted operations take and return plain objects;
 * with `apiKey`, every call is that client's.
 */
export function createPaymentsClient({ key, iv, apiKey, ...options }: PaymentsClientOptions): PaymentsClient {
  const headers = apiKey === undefined ? options.headers : { ...options.headers, Authorization: `Bearer ${apiKey}` };
  const client = createClient<paths>({ ...options, headers });
  client.use(encryptionMiddleware({ key, iv }));
  return client;
}
