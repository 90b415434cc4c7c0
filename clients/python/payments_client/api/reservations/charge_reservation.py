from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.charge_payment_reservation import ChargePaymentReservation
from ...models.error_body import ErrorBody
from ...models.payment_history import PaymentHistory
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: UUID,
    *,
    body: ChargePaymentReservation,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/payments/reservations/{id}/charge".format(
            id=quote(str(id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json; charset=utf-8"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | PaymentHistory | None:
    if response.status_code == 201:
        response_201 = PaymentHistory.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

    if response.status_code == 410:
        response_410 = ErrorBody.from_dict(response.json())

        return response_410

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ErrorBody.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorBody.from_dict(response.json())

        return response_500

    if response.status_code == 502:
        response_502 = ErrorBody.from_dict(response.json())

        return response_502

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if response.status_code == 504:
        response_504 = ErrorBody.from_dict(response.json())

        return response_504

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | PaymentHistory]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: UUID,
    *,
    client: AuthenticatedClient,
    body: ChargePaymentReservation,
    idempotency_key: str | Unset = UNSET,
) -> Response[ErrorBody | PaymentHistory]:
    """Charge a saved card

     Charges a saved card at its PG and registers the payment like any
    other (read, cancel, webhooks), pointing at the card. The PG's order id
    is `source.id`, so an order is charged at most once. The
    `Idempotency-Key` header is required: after a 502/504 (the PG's answer
    was lost) the retry with the same key looks the order up at the PG and
    answers the payment it made, charging only when the PG shows none; 409
    while the first attempt is still being sent. A card the PG or the card
    company refuses is 422 with the PG's message, and nothing is stored.

    Args:
        id (UUID):
        idempotency_key (str | Unset):
        body (ChargePaymentReservation): Charges a saved card: a new payment of the caller's
            record `source`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaymentHistory]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: UUID,
    *,
    client: AuthenticatedClient,
    body: ChargePaymentReservation,
    idempotency_key: str | Unset = UNSET,
) -> ErrorBody | PaymentHistory | None:
    """Charge a saved card

     Charges a saved card at its PG and registers the payment like any
    other (read, cancel, webhooks), pointing at the card. The PG's order id
    is `source.id`, so an order is charged at most once. The
    `Idempotency-Key` header is required: after a 502/504 (the PG's answer
    was lost) the retry with the same key looks the order up at the PG and
    answers the payment it made, charging only when the PG shows none; 409
    while the first attempt is still being sent. A card the PG or the card
    company refuses is 422 with the PG's message, and nothing is stored.

    Args:
        id (UUID):
        idempotency_key (str | Unset):
        body (ChargePaymentReservation): Charges a saved card: a new payment of the caller's
            record `source`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaymentHistory
    """

    return sync_detailed(
        id=id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    id: UUID,
    *,
    client: AuthenticatedClient,
    body: ChargePaymentReservation,
    idempotency_key: str | Unset = UNSET,
) -> Response[ErrorBody | PaymentHistory]:
    """Charge a saved card

     Charges a saved card at its PG and registers the payment like any
    other (read, cancel, webhooks), pointing at the card. The PG's order id
    is `source.id`, so an order is charged at most once. The
    `Idempotency-Key` header is required: after a 502/504 (the PG's answer
    was lost) the retry with the same key looks the order up at the PG and
    answers the payment it made, charging only when the PG shows none; 409
    while the first attempt is still being sent. A card the PG or the card
    company refuses is 422 with the PG's message, and nothing is stored.

    Args:
        id (UUID):
        idempotency_key (str | Unset):
        body (ChargePaymentReservation): Charges a saved card: a new payment of the caller's
            record `source`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaymentHistory]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: UUID,
    *,
    client: AuthenticatedClient,
    body: ChargePaymentReservation,
    idempotency_key: str | Unset = UNSET,
) -> ErrorBody | PaymentHistory | None:
    """Charge a saved card

     Charges a saved card at its PG and registers the payment like any
    other (read, cancel, webhooks), pointing at the card. The PG's order id
    is `source.id`, so an order is charged at most once. The
    `Idempotency-Key` header is required: after a 502/504 (the PG's answer
    was lost) the retry with the same key looks the order up at the PG and
    answers the payment it made, charging only when the PG shows none; 409
    while the first attempt is still being sent. A card the PG or the card
    company refuses is 422 with the PG's message, and nothing is stored.

    Args:
        id (UUID):
        idempotency_key (str | Unset):
        body (ChargePaymentReservation): Charges a saved card: a new payment of the caller's
            record `source`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaymentHistory
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
