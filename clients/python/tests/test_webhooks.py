"""payments_sdk.WebhookVerifier against a delivery our server made and
signed (tests/fixtures/webhook_delivery.json, captured by
tests/capture_webhook.py), and against the ways a delivery can be forged."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from payments_sdk import WebhookVerificationError, WebhookVerifier, WireCipher

FIXTURE: dict[str, Any] = json.loads((Path(__file__).parent / "fixtures" / "webhook_delivery.json").read_text())
CLIENT = FIXTURE["client"]
HEADERS: dict[str, str] = FIXTURE["headers"]
BODY: str = FIXTURE["body"]
SENT_AT = int(HEADERS["webhook-timestamp"])


def verifier(
    secret: str = CLIENT["webhook_secret"], at: float = SENT_AT, key: str = CLIENT["wire_key"]
) -> WebhookVerifier:
    return WebhookVerifier(secret=secret, key=key, iv=CLIENT["wire_iv"], now=lambda: at)


def test_a_delivery_of_our_server_verifies_and_unseals() -> None:
    assert HEADERS["content-type"].startswith("text/plain")
    verified = verifier(at=SENT_AT + 299).verify(HEADERS, BODY.encode())
    expected = FIXTURE["expected"]
    assert verified.id == HEADERS["webhook-id"] == str(verified.body.id)
    assert verified.timestamp == SENT_AT
    assert verified.body.source.to_dict() == expected["source"]
    assert str(verified.body.current.id) == expected["history_id"]
    assert verified.body.previous is not None and verified.body.previous.refund == expected["previous_refund"]
    assert verified.body.current.refund == expected["current_refund"]
    # Header names in any case, the body as text: the same delivery.
    assert verifier().verify({k.title(): v for k, v in HEADERS.items()}, BODY).id == verified.id


def test_any_valid_signature_is_enough() -> None:
    # During a secret's rotation the server signs with both: `v1,<new> v1,<old>`.
    rotated = dict(
        HEADERS, **{"webhook-signature": f"v1,{base64.b64encode(bytes(32)).decode()} {HEADERS['webhook-signature']}"}
    )
    assert verifier().verify(rotated, BODY).id == HEADERS["webhook-id"]


def test_the_signature_is_standard_webhooks() -> None:
    # The package's own verification (at its own clock, so not the fixture's
    # age) accepts what the server signed, once re-signed at "now".
    from datetime import UTC, datetime

    now = datetime.now(tz=UTC)
    webhook = Webhook(CLIENT["webhook_secret"])
    signed = webhook.sign(HEADERS["webhook-id"], datetime.fromtimestamp(SENT_AT, tz=UTC), BODY)
    assert signed in HEADERS["webhook-signature"].split(" ")
    fresh = {
        "webhook-id": HEADERS["webhook-id"],
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": webhook.sign(HEADERS["webhook-id"], now, BODY),
    }
    assert webhook.verify(BODY, fresh, json_parse=False) is None


ANOTHER_SECRET = "whsec_" + base64.b64encode(b"another-secret-of-at-least-24-bytes").decode()


def forged() -> dict[str, tuple[WebhookVerifier, dict[str, str], str]]:
    tampered = WireCipher(CLIENT["wire_key"], CLIENT["wire_iv"]).seal(json.dumps({"id": HEADERS["webhook-id"]}))
    return {
        "another secret": (verifier(secret=ANOTHER_SECRET), HEADERS, BODY),
        "a tampered body": (verifier(), HEADERS, tampered),
        "a body cut short": (verifier(), HEADERS, BODY[:-4]),
        "another id": (verifier(), dict(HEADERS, **{"webhook-id": "msg_another"}), BODY),
        "another timestamp": (verifier(), dict(HEADERS, **{"webhook-timestamp": str(SENT_AT + 1)}), BODY),
        "too old": (verifier(at=SENT_AT + 301), HEADERS, BODY),
        "from the future": (verifier(at=SENT_AT - 301), HEADERS, BODY),
        "unsigned": (verifier(), {k: v for k, v in HEADERS.items() if k != "webhook-signature"}, BODY),
        "no id": (verifier(), {k: v for k, v in HEADERS.items() if k != "webhook-id"}, BODY),
        "a timestamp that is no number": (verifier(), dict(HEADERS, **{"webhook-timestamp": "1e9"}), BODY),
        "another wire key": (verifier(key="another-connection-key-32-bytes!"), HEADERS, BODY),
    }


@pytest.mark.parametrize("case", sorted(forged()))
def test_forged_tampered_stale_or_unsigned_deliveries_are_refused(case: str) -> None:
    check, headers, body = forged()[case]
    with pytest.raises(WebhookVerificationError):
        check.verify(headers, body)
