"""Captures one webhook delivery of a live `payments serve` as the fixture
of tests/test_webhooks.py (tests/fixtures/webhook_delivery.json).

    cd clients/python && .venv/bin/python -m tests.capture_webhook

It starts the server as the tests do (tests/harness.py: local mode, a
throwaway SQLite database), adds a client with --plain-json, runs the
README's card payment (examples/card_payment.py) and saves the delivery
announcing the cancel exactly as it arrived: its Standard Webhooks headers
and its raw sealed body, with the throwaway client's wire key, IV and
webhook secret that verify it (nothing else ever used them).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from examples.card_payment import card_payment_flow
from payments_client import AuthenticatedClient
from tests.conftest import receiver_for
from tests.harness import PaymentsServer

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "webhook_delivery.json"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="payments-capture-") as workdir:
        server = PaymentsServer(Path(workdir))
        keys = server.add_client("webhook capture", plain_json=True)
        server.start()
        receiver = receiver_for(keys)
        try:
            assert keys.api_key is not None
            client = AuthenticatedClient(base_url=server.url, token=keys.api_key)
            outcome = card_payment_flow(client, server.toss_url, receiver)
        finally:
            receiver.close()
            server.stop()
    delivery = next(d for d in receiver.deliveries if d.headers["webhook-id"] == outcome.webhook.id)
    fixture = {
        "about": "One webhook as `payments serve` delivered it (tests/capture_webhook.py): a --plain-json "
        "client's, announcing the half cancel of the README's card payment. The keys are those of a throwaway "
        "client of a temporary local-mode database.",
        "client": {"wire_key": keys.wire_key, "wire_iv": keys.wire_iv, "webhook_secret": keys.webhook_secret},
        "headers": {
            name: delivery.headers[name]
            for name in ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature")
        },
        "body": delivery.body.decode("utf-8"),
        "expected": {
            "source": outcome.source.to_dict(),
            "history_id": str(outcome.created.id),
            "previous_refund": None,
            "current_refund": outcome.webhook.body.current.refund,
        },
    }
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(fixture, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {FIXTURE.relative_to(Path.cwd()) if FIXTURE.is_relative_to(Path.cwd()) else FIXTURE}")


if __name__ == "__main__":
    main()
