"""One `payments serve` for the session (tests/harness.py), with a plain-JSON
client and a sealed one added before it starts."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from examples.card_payment import WebhookReceiver
from payments_sdk import WebhookVerifier
from tests.harness import LEGACY, Keys, PaymentsServer


@dataclass(frozen=True)
class Server:
    url: str
    toss_url: str
    #: A client added with --plain-json.
    plain: Keys
    #: A client on the AES envelope, with its own key.
    sealed: Keys
    #: The legacy client (no API key; the server's connection key).
    legacy: Keys


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="payments-python-client-") as workdir:
        process = PaymentsServer(Path(workdir))
        plain = process.add_client("python example", plain_json=True)
        sealed = process.add_client("python sealed", plain_json=False)
        process.start()
        try:
            yield Server(process.url, process.toss_url, plain, sealed, LEGACY)
        finally:
            process.stop()


def receiver_for(keys: Keys) -> WebhookReceiver:
    return WebhookReceiver(WebhookVerifier(secret=keys.webhook_secret, key=keys.wire_key, iv=keys.wire_iv))


@pytest.fixture
def plain_receiver(server: Server) -> Iterator[WebhookReceiver]:
    receiver = receiver_for(server.plain)
    yield receiver
    receiver.close()


@pytest.fixture
def legacy_receiver(server: Server) -> Iterator[WebhookReceiver]:
    receiver = receiver_for(server.legacy)
    yield receiver
    receiver.close()
