"""The hand-written part of the Python client of the payments server.

`payments_client` is generated from openapi/payments.json by
openapi-python-client (`generate.py`); a client added with
`payments clients add --plain-json` needs nothing else:
`payments_client.AuthenticatedClient(base_url=..., token=api_key)`.

What no generator can know is here:

- `WebhookVerifier`: the server's webhooks (Standard Webhooks signatures,
  bodies sealed with the client's wire key);
- `sealed_client` / `SealedTransport`: the AES envelope of the legacy wire
  (the original SDK's, and any client not added with `--plain-json`).
"""

from .cipher import SEALED_CONTENT_TYPE, UnsealError, WireCipher
from .transport import AsyncSealedTransport, SealedTransport, UnsealedAnswerError, is_encrypted_operation, sealed_client
from .webhooks import VerifiedWebhook, WebhookVerificationError, WebhookVerifier

__all__ = [
    "SEALED_CONTENT_TYPE",
    "AsyncSealedTransport",
    "SealedTransport",
    "UnsealError",
    "UnsealedAnswerError",
    "VerifiedWebhook",
    "WebhookVerificationError",
    "WebhookVerifier",
    "WireCipher",
    "is_encrypted_operation",
    "sealed_client",
]
