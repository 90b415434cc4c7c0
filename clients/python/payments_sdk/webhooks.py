"""Verifies the webhooks the payments server sends.

Each is a POST of `text/plain`: the webhook body (`WebhookBody` of the
document) sealed with the receiving client's wire key (the legacy client's:
the connection key), with Standard Webhooks headers: `webhook-id` (the event
id, the same on every retry), `webhook-timestamp` (seconds) and
`webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one
or more, space-separated: during a secret's rotation there are two). The
signature is computed by the `standardwebhooks` package; the timestamp is
checked here against a clock the caller may give.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks import Webhook

from payments_client.models import WebhookBody

from .cipher import KeyMaterial, WireCipher


class WebhookVerificationError(Exception):
    """An incoming webhook that is not authentic, too old or not readable."""


@dataclass(frozen=True)
class VerifiedWebhook:
    """A verified and unsealed webhook."""

    #: `webhook-id`: the event id, the same on every retry (de-duplicate on it).
    id: str
    #: `webhook-timestamp`, seconds since the epoch.
    timestamp: int
    #: The unsealed body.
    body: WebhookBody


class WebhookVerifier:
    """Checks a webhook's signature and age, then unseals its body.

    Args:
        secret: the webhook secret (`whsec_` + base64): a client's, as
            `payments clients add` printed it, or the server's
            `PAYMENT_WEBHOOK_SECRET` for the legacy client.
        key, iv: the wire key and IV that seal its body (the same client's).
        tolerance_seconds: the largest distance between `webhook-timestamp`
            and now (300 s, as Standard Webhooks recommends).
        now: the clock, seconds since the epoch.
    """

    def __init__(
        self,
        *,
        secret: str,
        key: KeyMaterial,
        iv: KeyMaterial,
        tolerance_seconds: float = 300,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._webhook = Webhook(secret)
        self._cipher = WireCipher(key, iv)
        self._tolerance = tolerance_seconds
        self._now = now

    def verify(self, headers: Mapping[str, str], body: bytes | str) -> VerifiedWebhook:
        """Verifies one delivery; `body` is the raw request body, exactly as received.

        Raises:
            WebhookVerificationError: a header is missing, the timestamp is too
                far from now, no signature is valid, or the body does not
                unseal into a webhook body with the same id.
        """
        lowered = {name.lower(): value for name, value in headers.items()}
        webhook_id = self._header(lowered, "webhook-id")
        timestamp_text = self._header(lowered, "webhook-timestamp")
        signatures = self._header(lowered, "webhook-signature")
        if not timestamp_text.isascii() or not timestamp_text.isdigit():
            raise WebhookVerificationError("webhook-timestamp is not a number")
        timestamp = int(timestamp_text)
        drift = abs(self._now() - timestamp)
        if drift > self._tolerance:
            raise WebhookVerificationError(f"webhook-timestamp is {round(drift)} s away from now")
        expected = self._webhook.sign(webhook_id, datetime.fromtimestamp(timestamp, tz=UTC), body).encode()
        if not any(hmac.compare_digest(expected, given.encode()) for given in signatures.split(" ")):
            raise WebhookVerificationError("no valid v1 signature in webhook-signature")
        try:
            decoded = WebhookBody.from_dict(json.loads(self._cipher.unseal(body)))
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookVerificationError("the body could not be unsealed into a webhook body") from error
        if str(decoded.id) != webhook_id:
            raise WebhookVerificationError("the body's id is not webhook-id")
        return VerifiedWebhook(id=webhook_id, timestamp=timestamp, body=decoded)

    @staticmethod
    def _header(headers: Mapping[str, str], name: str) -> str:
        value = headers.get(name)
        if not value:
            raise WebhookVerificationError(f"the {name} header is missing")
        return value
