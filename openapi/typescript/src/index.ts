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

/** Where the server is and its connection key. */
export interface PaymentsClientOptions extends ClientOptions, ConnectionKey {
  /** e.g. `http://127.0.0.1:37821`. */
  baseUrl: string;
}

/**
 * An openapi-fetch client of the payments server with the encryption
 * middleware installed: encrypted operations take and return plain objects.
 */
export function createPaymentsClient({ key, iv, ...options }: PaymentsClientOptions): PaymentsClient {
  const client = createClient<paths>(options);
  client.use(encryptionMiddleware({ key, iv }));
  return client;
}
