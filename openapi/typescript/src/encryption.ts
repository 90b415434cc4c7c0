import type { Middleware } from "openapi-fetch";

import { type ConnectionKey, ENCRYPTED_CONTENT_TYPE, WireCipher } from "./cipher.js";
import { ENCRYPTED_OPERATIONS, type EncryptedOperation } from "./generated/encrypted-operations.js";

/**
 * Whether the operation `method schemaPath` (the path as the document names it,
 * e.g. `PATCH /payments/histories/{id}`) is marked `x-encrypted` in
 * openapi/payments.json. The list is generated from the document.
 */
export function isEncryptedOperation(method: string, schemaPath: string): boolean {
  return Object.hasOwn(ENCRYPTED_OPERATIONS, `${method.toUpperCase()} ${schemaPath}` satisfies string);
}

/** The encrypted operations, as `METHOD /path`. */
export const encryptedOperations = Object.keys(ENCRYPTED_OPERATIONS) as EncryptedOperation[];

/**
 * openapi-fetch middleware for the operations marked `x-encrypted`: the JSON
 * body openapi-fetch serialised is sent encrypted as `text/plain`, and a
 * successful `text/plain` answer is decrypted back into JSON before
 * openapi-fetch parses it, so callers read and write plain typed objects.
 * Errors are JSON on every route and pass through untouched.
 */
export function encryptionMiddleware(connection: ConnectionKey): Middleware {
  const cipher = new WireCipher(connection);
  return {
    async onRequest({ request, schemaPath }) {
      if (!isEncryptedOperation(request.method, schemaPath) || request.body === null) return undefined;
      const json = await request.text();
      const headers = new Headers(request.headers);
      headers.set("Content-Type", ENCRYPTED_CONTENT_TYPE);
      headers.delete("Content-Length");
      return new Request(request.url, {
        method: request.method,
        headers,
        body: cipher.encrypt(json),
        signal: request.signal,
        redirect: request.redirect,
        credentials: request.credentials,
        cache: request.cache,
        mode: request.mode,
        referrer: request.referrer,
        referrerPolicy: request.referrerPolicy,
        integrity: request.integrity,
        keepalive: request.keepalive,
      });
    },
    async onResponse({ request, response, schemaPath }) {
      if (!isEncryptedOperation(request.method, schemaPath) || !response.ok) return undefined;
      const contentType = response.headers.get("Content-Type") ?? "";
      if (!contentType.toLowerCase().startsWith("text/plain")) return undefined;
      const text = await response.text();
      const headers = new Headers(response.headers);
      headers.set("Content-Type", "application/json; charset=utf-8");
      headers.delete("Content-Length");
      let json: string;
      try {
        json = text.length === 0 ? "" : cipher.decrypt(text);
      } catch (cause) {
        throw new Error(`${request.method} ${schemaPath}: the answer could not be decrypted with the connection key`, {
          cause,
        });
      }
      return new Response(json, { status: response.status, statusText: response.statusText, headers });
    },
  };
}
