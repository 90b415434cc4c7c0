"""The AES envelope of the payments server's legacy wire (and of its webhooks)."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

#: The content type of sealed bodies.
SEALED_CONTENT_TYPE = "text/plain; charset=utf-8"

KeyMaterial = str | bytes


def _bytes(material: KeyMaterial) -> bytes:
    # A string is its UTF-8 bytes, as the server's configuration and
    # `payments clients add` give keys.
    return material.encode("utf-8") if isinstance(material, str) else bytes(material)


class UnsealError(ValueError):
    """A body that is not sealed with this key and IV."""


class WireCipher:
    """base64 of AES-CBC with PKCS#7 padding over UTF-8 text; a 16-byte key
    is AES-128, a 32-byte one AES-256; the IV is 16 bytes."""

    def __init__(self, key: KeyMaterial, iv: KeyMaterial) -> None:
        self._key = _bytes(key)
        self._iv = _bytes(iv)
        if len(self._key) not in (16, 32):
            raise ValueError(f"the wire key must be 16 or 32 bytes, got {len(self._key)}")
        if len(self._iv) != 16:
            raise ValueError(f"the wire IV must be 16 bytes, got {len(self._iv)}")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._iv))

    def seal(self, plaintext: str | bytes) -> str:
        """base64(AES-CBC(PKCS#7(UTF-8 `plaintext`)))."""
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
        padder = padding.PKCS7(128).padder()
        encryptor = self._cipher().encryptor()
        padded = padder.update(data) + padder.finalize()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")

    def unseal(self, sealed: str | bytes) -> str:
        """The UTF-8 text inside `sealed` (base64).

        Raises:
            UnsealError: it is not base64, not whole blocks, not padded or not
                UTF-8 (not sealed with this key and IV).
        """
        text = sealed.decode("ascii", errors="replace") if isinstance(sealed, bytes) else sealed
        try:
            raw = base64.b64decode(text.strip(), validate=True)
            decryptor = self._cipher().decryptor()
            padded = decryptor.update(raw) + decryptor.finalize()
            unpadder = padding.PKCS7(128).unpadder()
            return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
        except (binascii.Error, ValueError) as error:
            raise UnsealError("not sealed with this wire key and IV") from error
