"""The card payment of the README walkthrough ("Your first five minutes"),
with the generated Python client and an API key.

A card payment made at (the fake) Toss Payments is registered, read back
twice, half cancelled, and the change arrives as a signed, sealed webhook
that is verified and unsealed.

Against a server started with `cargo run -p payments -- serve` (local mode),
with a client added by

    cargo run -p payments -- clients add --name "python example" --plain-json

export what it printed, then run this file from clients/python:

    PAYMENTS_API_KEY=pk_test_... PAYMENTS_WIRE_KEY=... PAYMENTS_WIRE_IV=... \\
    PAYMENTS_WEBHOOK_SECRET=whsec_... python -m examples.card_payment

PAYMENTS_URL (http://127.0.0.1:37821) and PAYMENTS_TOSS_URL
(http://127.0.0.1:30771) say where the server and its fake Toss are.
tests/test_card_payment.py runs the same against a server it starts.
"""

from __future__ import annotations

import base64
import os
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

import httpx

from payments_client import AuthenticatedClient
from payments_client.api.histories import cancel_history, create_history, get_history, get_history_by_id
from payments_client.models import (
    CancelPaymentHistory,
    CreatePaymentHistory,
    ErrorBody,
    PasswordInput,
    PaymentHistory,
    Source,
    SourceAccessor,
    VendorCode,
    VendorInput,
)
from payments_client.types import Response
from payments_sdk import VerifiedWebhook, WebhookVerificationError, WebhookVerifier

#: The secret key the fake Toss Payments of local mode accepts.
FAKE_TOSS_SECRET_KEY = "test_ak_ZORzdMaqN3wQd5k6ygr5AkYXQGwy"

T = TypeVar("T")


@dataclass
class Delivery:
    """One POST the receiver got, as it came (what tools/capture_webhook.py saves)."""

    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A tiny HTTP server on 127.0.0.1 that takes the payment server's
    webhooks: each is verified (200) or refused (400)."""

    verifier: WebhookVerifier
    received: list[VerifiedWebhook] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    webhook = receiver.verifier.verify(headers, body)
                except WebhookVerificationError as error:
                    self.send_response(400)
                    self.end_headers()
                    with receiver._changed:
                        receiver.refused.append(str(error))
                        receiver._changed.notify_all()
                    return
                self.send_response(200)
                self.end_headers()
                with receiver._changed:
                    receiver.deliveries.append(Delivery(headers, body))
                    if webhook.id not in receiver._seen:  # a retry of one taken already is not news
                        receiver._seen.add(webhook.id)
                        receiver.received.append(webhook)
                    receiver._changed.notify_all()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where a payment's webhook_url points."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/payments/webhook"

    def next(self, match: Callable[[VerifiedWebhook], bool], timeout: float = 30) -> VerifiedWebhook:
        """The first verified webhook `match` accepts (taken out), waiting for it."""
        with self._changed:
            found: list[VerifiedWebhook] = []

            def arrived() -> bool:
                found[:] = [webhook for webhook in self.received if match(webhook)][:1]
                return bool(found)

            if not self._changed.wait_for(arrived, timeout=timeout):
                raise TimeoutError(f"no matching webhook within {timeout} s (refused: {self.refused})")
            self.received.remove(found[0])
            return found[0]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def pay_by_card_at_toss(toss_url: str, amount: int, order_id: str) -> str:
    """Authenticates a card payment at the (fake) Toss Payments, as the
    customer does in its window: it stays unconfirmed until the server
    confirms it at registration. Answers the paymentKey."""
    secret = base64.b64encode(f"{FAKE_TOSS_SECRET_KEY}:".encode()).decode()
    response = httpx.post(
        f"{toss_url}/v1/payments/key-in",
        headers={"Authorization": f"Basic {secret}"},
        json={
            "method": "card",
            "cardNumber": "1111222233334444",
            "cardExpirationYear": "30",
            "cardExpirationMonth": "12",
            "amount": amount,
            "orderId": order_id,
            "orderName": "A book",
            # The fake's switch: authenticated but unconfirmed, as the real window leaves it.
            "__approved": False,
        },
        timeout=30,
    )
    payment = response.json()
    if response.status_code != 200 or not isinstance(payment.get("paymentKey"), str):
        raise RuntimeError(f"Toss key-in answered {response.status_code}: {payment}")
    return str(payment["paymentKey"])


def expect(what: str, answer: Response[ErrorBody | T], kind: type[T]) -> T:
    """The parsed answer when it is a `kind`; else fails with its status and error body."""
    if isinstance(answer.parsed, kind):
        return answer.parsed
    raise RuntimeError(f"{what} answered {answer.status_code.value}: {answer.parsed or answer.content!r}")


@dataclass
class CardPaymentOutcome:
    """What the walkthrough saw, for its caller (and the test) to check."""

    source: Source
    payment_key: str
    created: PaymentHistory
    read_by_source: PaymentHistory
    read_by_id: PaymentHistory
    wrong_password: Response[ErrorBody | PaymentHistory]
    cancelled: PaymentHistory
    webhook: VerifiedWebhook


def card_payment_flow(client: AuthenticatedClient, toss_url: str, receiver: WebhookReceiver) -> CardPaymentOutcome:
    """Pay, register, read, read by id, cancel half, receive the webhook."""
    source = Source(schema="shop", table="orders", id=f"order-{uuid.uuid4()}")
    password = "a-secret-of-ours"

    # 1. The customer pays 20,000 KRW by card in the Toss window.
    payment_key = pay_by_card_at_toss(toss_url, 20000, source.id)

    # 2. Register it: the server reads it from Toss, checks the amount and confirms it.
    vendor = VendorInput(code=VendorCode.TOSS_PAYMENTS, store_id="my-store", uid=payment_key)
    body = CreatePaymentHistory(vendor=vendor, source=source, price=20000, password=password, webhook_url=receiver.url)
    created = expect(
        "createHistory",
        create_history.sync_detailed(client=client, body=body, idempotency_key=f"create-{source.id}"),
        PaymentHistory,
    )

    # 3. Read it back by our own record, then by its id.
    accessor = SourceAccessor(schema=source.schema, table=source.table, id=source.id, password=password)
    by_source = expect("getHistory", get_history.sync_detailed(client=client, body=accessor), PaymentHistory)
    by_id = expect(
        "getHistoryById",
        get_history_by_id.sync_detailed(id=created.id, client=client, body=PasswordInput(password=password)),
        PaymentHistory,
    )
    # Errors are typed too (ErrorBody), and never sealed.
    denied = get_history_by_id.sync_detailed(
        id=created.id, client=client, body=PasswordInput(password="not-the-password")
    )

    # 4. Cancel half of it.
    cancel = CancelPaymentHistory(source=source, password=password, price=10000, reason="half back", account=None)
    cancelled = expect(
        "cancelHistory",
        cancel_history.sync_detailed(client=client, body=cancel, idempotency_key=f"cancel-{source.id}-1"),
        PaymentHistory,
    )

    # 5. The change arrives at webhook_url, signed and sealed.
    webhook = receiver.next(lambda w: w.body.current.id == created.id and len(w.body.current.cancels) > 0)
    return CardPaymentOutcome(source, payment_key, created, by_source, by_id, denied, cancelled, webhook)


def main() -> None:
    env = os.environ
    missing = [
        name
        for name in ("PAYMENTS_API_KEY", "PAYMENTS_WIRE_KEY", "PAYMENTS_WIRE_IV", "PAYMENTS_WEBHOOK_SECRET")
        if not env.get(name)
    ]
    if missing:
        sys.exit(
            f"set {', '.join(missing)}: what `payments clients add --plain-json` printed (see this file's docstring)"
        )
    client = AuthenticatedClient(
        base_url=env.get("PAYMENTS_URL", "http://127.0.0.1:37821"), token=env["PAYMENTS_API_KEY"]
    )
    verifier = WebhookVerifier(
        secret=env["PAYMENTS_WEBHOOK_SECRET"], key=env["PAYMENTS_WIRE_KEY"], iv=env["PAYMENTS_WIRE_IV"]
    )
    receiver = WebhookReceiver(verifier)
    try:
        outcome = card_payment_flow(client, env.get("PAYMENTS_TOSS_URL", "http://127.0.0.1:30771"), receiver)
    finally:
        receiver.close()
    created, webhook = outcome.created, outcome.webhook
    denied = outcome.wrong_password.parsed
    print(f"registered {created.id}: {created.price:g} {created.currency}")
    if isinstance(denied, ErrorBody):
        print(f"wrong password: {outcome.wrong_password.status_code.value} {denied.code}")
    print(f"refunded {outcome.cancelled.refund or 0:g} ({len(outcome.cancelled.cancels)} cancel)")
    previous = webhook.body.previous.refund if webhook.body.previous else "(new)"
    print(f"webhook {webhook.id}: refund {previous} -> {webhook.body.current.refund}")


if __name__ == "__main__":
    main()
