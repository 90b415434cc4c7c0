from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_payment_history import CreatePaymentHistory
from ...models.error_body import ErrorBody
from ...models.payment_history import PaymentHistory
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: CreatePaymentHistory,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/payments/histories",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json; charset=utf-8"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | PaymentHistory | None:
    if response.status_code == 200:
        response_200 = PaymentHistory.from_dict(response.json())

        return response_200

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
    *,
    client: AuthenticatedClient,
    body: CreatePaymentHistory,
    idempotency_key: str | Unset = UNSET,
) -> Response[ErrorBody | PaymentHistory]:
    """Register a payment

     Registers a payment the customer has just made in the PG's popup. The
    payment is read from the PG; its order id there (Toss `orderId`,
    Iamport `merchant_uid`) must be `source.id`, else the answer is 422 and
    nothing is confirmed or cancelled. When the PG charged another amount
    than `price`, the payment is cancelled at the PG and the answer is 422.
    Send an `Idempotency-Key` to retry safely.

    A source with an order (`POST /payments/orders`) registers under it:
    with the order's password, at the order's price (a request with
    another price is refused before anything is confirmed; Toss is
    confirmed with the order's amount), announced to the order's
    `webhook_url` like a completion by the PG's notification. When the
    order's payment was recorded already (by the PG's notification or the
    reconciler), the answer is 200 with that payment.

    Args:
        idempotency_key (str | Unset):
        body (CreatePaymentHistory): Registers a payment the customer has just made in the PG's
            popup.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaymentHistory]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: CreatePaymentHistory,
    idempotency_key: str | Unset = UNSET,
) -> ErrorBody | PaymentHistory | None:
    """Register a payment

     Registers a payment the customer has just made in the PG's popup. The
    payment is read from the PG; its order id there (Toss `orderId`,
    Iamport `merchant_uid`) must be `source.id`, else the answer is 422 and
    nothing is confirmed or cancelled. When the PG charged another amount
    than `price`, the payment is cancelled at the PG and the answer is 422.
    Send an `Idempotency-Key` to retry safely.

    A source with an order (`POST /payments/orders`) registers under it:
    with the order's password, at the order's price (a request with
    another price is refused before anything is confirmed; Toss is
    confirmed with the order's amount), announced to the order's
    `webhook_url` like a completion by the PG's notification. When the
    order's payment was recorded already (by the PG's notification or the
    reconciler), the answer is 200 with that payment.

    Args:
        idempotency_key (str | Unset):
        body (CreatePaymentHistory): Registers a payment the customer has just made in the PG's
            popup.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaymentHistory
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: CreatePaymentHistory,
    idempotency_key: str | Unset = UNSET,
) -> Response[ErrorBody | PaymentHistory]:
    """Register a payment

     Registers a payment the customer has just made in the PG's popup. The
    payment is read from the PG; its order id there (Toss `orderId`,
    Iamport `merchant_uid`) must be `source.id`, else the answer is 422 and
    nothing is confirmed or cancelled. When the PG charged another amount
    than `price`, the payment is cancelled at the PG and the answer is 422.
    Send an `Idempotency-Key` to retry safely.

    A source with an order (`POST /payments/orders`) registers under it:
    with the order's password, at the order's price (a request with
    another price is refused before anything is confirmed; Toss is
    confirmed with the order's amount), announced to the order's
    `webhook_url` like a completion by the PG's notification. When the
    order's payment was recorded already (by the PG's notification or the
    reconciler), the answer is 200 with that payment.

    Args:
        idempotency_key (str | Unset):
        body (CreatePaymentHistory): Registers a payment the customer has just made in the PG's
            popup.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaymentHistory]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: CreatePaymentHistory,
    idempotency_key: str | Unset = UNSET,
) -> ErrorBody | PaymentHistory | None:
    """Register a payment

     Registers a payment the customer has just made in the PG's popup. The
    payment is read from the PG; its order id there (Toss `orderId`,
    Iamport `merchant_uid`) must be `source.id`, else the answer is 422 and
    nothing is confirmed or cancelled. When the PG charged another amount
    than `price`, the payment is cancelled at the PG and the answer is 422.
    Send an `Idempotency-Key` to retry safely.

    A source with an order (`POST /payments/orders`) registers under it:
    with the order's password, at the order's price (a request with
    another price is refused before anything is confirmed; Toss is
    confirmed with the order's amount), announced to the order's
    `webhook_url` like a completion by the PG's notification. When the
    order's payment was recorded already (by the PG's notification or the
    reconciler), the answer is 200 with that payment.

    Args:
        idempotency_key (str | Unset):
        body (CreatePaymentHistory): Registers a payment the customer has just made in the PG's
            popup.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaymentHistory
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
