"""The AES wire under the generated client (payments_sdk.sealed_client):
against the live server as the legacy client and as a client with its own
wire key, and the transport's sealing on its own."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from examples.card_payment import WebhookReceiver, card_payment_flow, expect, pay_by_card_at_toss
from payments_client.api.histories import create_history, get_history, get_history_by_id
from payments_client.models import (
    CreatePaymentHistory,
    ErrorBody,
    ErrorCode,
    PasswordInput,
    PaymentHistory,
    Source,
    SourceAccessor,
    VendorCode,
    VendorInput,
)
from payments_sdk import SealedTransport, UnsealedAnswerError, WireCipher, sealed_client
from tests.conftest import Server


def test_the_walkthrough_as_the_legacy_client(server: Server, legacy_receiver: WebhookReceiver) -> None:
    # No API key: the server's connection key seals the bodies, answers and webhooks.
    client = sealed_client(server.url, key=server.legacy.wire_key, iv=server.legacy.wire_iv)
    outcome = card_payment_flow(client, server.toss_url, legacy_receiver)
    assert outcome.created.price == 20000
    assert outcome.read_by_id.to_dict() == outcome.created.to_dict()
    assert isinstance(outcome.wrong_password.parsed, ErrorBody), "errors stay JSON"
    assert outcome.wrong_password.parsed.code == ErrorCode.WRONG_PASSWORD
    assert outcome.cancelled.refund == 10000
    assert outcome.webhook.body.current.refund == 10000
    assert legacy_receiver.refused == []

    # The same body unsealed is refused: the legacy wire is the envelope.
    accessor = SourceAccessor(schema="shop", table="orders", id=outcome.source.id, password="a-secret-of-ours")
    plain = httpx.patch(f"{server.url}/payments/histories/get", json=accessor.to_dict(), timeout=30)
    assert plain.status_code == 415


def test_a_sealed_clients_calls_through_the_async_functions(server: Server) -> None:
    keys = server.sealed
    client = sealed_client(server.url, key=keys.wire_key, iv=keys.wire_iv, api_key=keys.api_key)
    source = Source(schema="shop", table="orders", id=f"order-{uuid.uuid4()}")
    payment_key = pay_by_card_at_toss(server.toss_url, 12000, source.id)
    body = CreatePaymentHistory(
        vendor=VendorInput(code=VendorCode.TOSS_PAYMENTS, store_id="my-store", uid=payment_key),
        source=source,
        price=12000,
        password="a-password-of-ours",
        webhook_url="http://127.0.0.1:9/unused",
    )

    async def register_and_read() -> tuple[PaymentHistory, PaymentHistory]:
        created = expect(
            "createHistory", await create_history.asyncio_detailed(client=client, body=body), PaymentHistory
        )
        read = await get_history_by_id.asyncio_detailed(
            id=created.id, client=client, body=PasswordInput(password="a-password-of-ours")
        )
        return created, expect("getHistoryById", read, PaymentHistory)

    created, read = asyncio.run(register_and_read())
    assert read.to_dict() == created.to_dict()
    # Its records are its own: the legacy client does not find it.
    legacy = sealed_client(server.url, key=server.legacy.wire_key, iv=server.legacy.wire_iv)
    accessor = SourceAccessor(schema=source.schema, table=source.table, id=source.id, password="a-password-of-ours")
    assert get_history.sync_detailed(client=legacy, body=accessor).status_code == 404


KEY, IV = "unit-test-connection-key-32byte!", "unit-test-iv-16b"


def recorded(answer: httpx.Response) -> tuple[list[httpx.Request], httpx.Client]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return answer

    transport = SealedTransport(KEY, IV, inner=httpx.MockTransport(handler))
    return seen, httpx.Client(base_url="http://127.0.0.1:9/api", transport=transport)


def test_encrypted_operations_are_sealed_and_their_answers_unsealed() -> None:
    cipher = WireCipher(KEY, IV)
    history = {"id": "x", "price": 1}
    answer = httpx.Response(
        201, text=cipher.seal(json.dumps(history)), headers={"content-type": "text/plain; charset=utf-8"}
    )
    seen, client = recorded(answer)
    response = client.post("/payments/histories", json={"price": 1})
    assert json.loads(cipher.unseal(seen[0].content)) == {"price": 1}
    assert seen[0].headers["content-type"] == "text/plain; charset=utf-8"
    assert int(seen[0].headers["content-length"]) == len(seen[0].content)
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == history


def test_other_routes_and_errors_pass_untouched() -> None:
    error = {"code": "WRONG_PASSWORD", "message": "no"}
    seen, client = recorded(httpx.Response(403, json=error))
    assert client.patch("/payments/histories/3f2b", json={"password": "x"}).json() == error
    assert json.loads(WireCipher(KEY, IV).unseal(seen[0].content)) == {"password": "x"}, "sealed, answered in JSON"
    seen, client = recorded(httpx.Response(200, json={"ok": True}))
    client.post("/payments/webhooks/toss", json={"eventType": "PAYMENT_STATUS_CHANGED"})
    assert seen[0].headers["content-type"] == "application/json", "a PG's route is no operation of ours to seal"
    assert json.loads(seen[0].content) == {"eventType": "PAYMENT_STATUS_CHANGED"}


def test_an_answer_sealed_with_another_key_is_an_error() -> None:
    other = WireCipher("another-connection-key-32-bytes!", IV).seal("{}")
    _, client = recorded(httpx.Response(200, text=other, headers={"content-type": "text/plain; charset=utf-8"}))
    with pytest.raises(UnsealedAnswerError):
        client.patch("/payments/histories/get", json={})
