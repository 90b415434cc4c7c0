import { createCipheriv, createDecipheriv } from "node:crypto";

/** A key or IV: a string (its UTF-8 bytes, as the server's configuration reads it) or raw bytes. */
export type KeyMaterial = string | Uint8Array;

/** The connection key and IV (`PAYMENT_CONNECTION_ENCRYPTION_KEY` / `_IV` of the server). */
export interface ConnectionKey {
  /** 16 bytes (AES-128) or 32 bytes (AES-256). */
  key: KeyMaterial;
  /** 16 bytes. */
  iv: KeyMaterial;
}

/** The content type of encrypted bodies. */
export const ENCRYPTED_CONTENT_TYPE = "text/plain; charset=utf-8";

const bytes = (material: KeyMaterial): Buffer =>
  typeof material === "string" ? Buffer.from(material, "utf8") : Buffer.from(material);

/**
 * The wire encryption of the payments server: base64 of AES-CBC with PKCS#7
 * padding over the UTF-8 text, the key length choosing AES-128 or AES-256.
 */
export class WireCipher {
  readonly #key: Buffer;
  readonly #iv: Buffer;
  readonly #algorithm: "aes-128-cbc" | "aes-256-cbc";

  constructor({ key, iv }: ConnectionKey) {
    this.#key = bytes(key);
    this.#iv = bytes(iv);
    if (this.#key.length === 16) this.#algorithm = "aes-128-cbc";
    else if (this.#key.length === 32) this.#algorithm = "aes-256-cbc";
    else throw new RangeError(`the connection key must be 16 or 32 bytes, got ${this.#key.length}`);
    if (this.#iv.length !== 16) throw new RangeError(`the connection IV must be 16 bytes, got ${this.#iv.length}`);
  }

  /** base64(AES-CBC(PKCS#7(UTF-8 `plaintext`))). */
  encrypt(plaintext: string): string {
    const cipher = createCipheriv(this.#algorithm, this.#key, this.#iv);
    return Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]).toString("base64");
  }

  /** The UTF-8 text inside `ciphertext` (base64); throws when it is not ours. */
  decrypt(ciphertext: string): string {
    const decipher = createDecipheriv(this.#algorithm, this.#key, this.#iv);
    const raw = Buffer.from(ciphertext.trim(), "base64");
    return Buffer.concat([decipher.update(raw), decipher.final()]).toString("utf8");
  }
}
