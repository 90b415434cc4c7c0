"""The README's card payment (examples/card_payment.py) against a live
`payments serve`, with a client's API key in plain-JSON mode: the generated
client and nothing else on the wire."""

from __future__ import annotations

import httpx

from examples.card_payment import WebhookReceiver, card_payment_flow, expect
from payments_client import AuthenticatedClient
from payments_client.api.histories import cancel_history
from payments_client.models import CancelPaymentHistory, ErrorBody, ErrorCode, PaymentHistory, VendorCode
from tests.conftest import Server


def test_the_walkthrough_with_an_api_key(server: Server, plain_receiver: WebhookReceiver) -> None:
    wire: list[tuple[str, str, str, str]] = []

    def sent(request: httpx.Request) -> None:
        wire.append(
            ("request", request.url.path, request.headers.get("content-type", ""), request.headers["authorization"])
        )

    def answered(response: httpx.Response) -> None:
        wire.append(("answer", response.request.url.path, response.headers.get("content-type", ""), ""))

    hooks = {"request": [sent], "response": [answered]}
    assert server.plain.api_key is not None
    client = AuthenticatedClient(base_url=server.url, token=server.plain.api_key, httpx_args={"event_hooks": hooks})
    outcome = card_payment_flow(client, server.toss_url, plain_receiver)
    created = outcome.created

    assert created.vendor.code == VendorCode.TOSS_PAYMENTS
    assert created.vendor_code == VendorCode.TOSS_PAYMENTS
    assert created.vendor.uid == outcome.payment_key
    assert created.source.to_dict() == outcome.source.to_dict()
    assert (created.price, created.currency, created.refund, created.cancelled_at) == (20000, "KRW", None, None)
    assert created.paid_at is not None, "the server confirmed the authenticated payment: it is paid"
    assert created.data["status"] == "DONE", "confirmed at Toss"
    assert created.cancels == []

    assert outcome.read_by_source.to_dict() == created.to_dict()
    assert outcome.read_by_id.to_dict() == created.to_dict()

    denied = outcome.wrong_password
    assert denied.status_code == 403
    assert isinstance(denied.parsed, ErrorBody)
    assert denied.parsed.code == ErrorCode.WRONG_PASSWORD

    cancelled = outcome.cancelled
    assert (cancelled.id, cancelled.refund, len(cancelled.cancels)) == (created.id, 10000, 1)
    assert (cancelled.cancels[0].price, cancelled.cancels[0].reason) == (10000, "half back")
    assert cancelled.cancelled_at is not None

    webhook = outcome.webhook
    assert webhook.body.source.to_dict() == outcome.source.to_dict()
    assert webhook.body.current.id == created.id
    assert webhook.body.previous is not None, "a change of a registered payment has its previous state"
    assert webhook.body.previous.refund is None
    assert webhook.body.current.refund == 10000
    assert len(webhook.body.current.cancels) == 1
    assert plain_receiver.refused == []

    # Plain JSON both ways, every call with the client's key.
    calls = [entry for entry in wire if entry[0] == "request"]
    assert len(calls) == 5
    assert all(auth == f"Bearer {server.plain.api_key}" for _, _, _, auth in calls)
    assert all(kind.startswith("application/json") for _, _, kind, _ in wire), wire


def test_a_retried_cancel_with_the_same_idempotency_key_refunds_once(
    server: Server, plain_receiver: WebhookReceiver
) -> None:
    assert server.plain.api_key is not None
    client = AuthenticatedClient(base_url=server.url, token=server.plain.api_key)
    outcome = card_payment_flow(client, server.toss_url, plain_receiver)
    body = CancelPaymentHistory(source=outcome.source, password="a-secret-of-ours", price=5000, reason="retry")
    key = f"retry-{outcome.source.id}"
    first = expect(
        "cancelHistory", cancel_history.sync_detailed(client=client, body=body, idempotency_key=key), PaymentHistory
    )
    again = cancel_history.sync_detailed(client=client, body=body, idempotency_key=key)
    assert first.refund == 15000
    assert again.headers.get("idempotent-replayed") == "true"
    assert isinstance(again.parsed, PaymentHistory)
    assert again.parsed.to_dict() == first.to_dict()


def test_another_clients_key_is_refused(server: Server) -> None:
    client = AuthenticatedClient(base_url=server.url, token="pk_test_not-a-key-of-this-server")
    body = CancelPaymentHistory.from_dict(
        {"source": {"schema": "shop", "table": "orders", "id": "x"}, "password": "x", "price": 1, "reason": "x"}
    )
    refused = cancel_history.sync_detailed(client=client, body=body)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, ErrorBody)
    assert refused.parsed.code == ErrorCode.UNAUTHENTICATED
