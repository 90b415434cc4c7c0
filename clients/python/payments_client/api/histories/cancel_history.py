from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.cancel_payment_history import CancelPaymentHistory
from ...models.error_body import ErrorBody
from ...models.payment_history import PaymentHistory
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: CancelPaymentHistory,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/payments/histories/cancel",
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

    if response.status_code == 202:
        response_202 = PaymentHistory.from_dict(response.json())

        return response_202

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
    body: CancelPaymentHistory,
    idempotency_key: str | Unset = UNSET,
) -> Response[ErrorBody | PaymentHistory]:
    """Cancel a payment

     Cancels a payment wholly or partly at the PG and answers the payment as
    it is afterwards; the change is also announced to its `webhook_url`.
    The cancel is recorded before the PG is called and one cancel of a
    payment runs at a time. Send an `Idempotency-Key`: after a 502/504 (the
    PG's answer was lost) the retry with the same key re-reads the PG and
    answers the cancel it made, sending it again only when the PG shows
    none, so it never refunds twice; 409 while the first attempt is still
    being sent or settled.

    A PG may accept a cancel and complete it later (PortOne `REQUESTED`,
    Toss `IN_PROGRESS`): the answer is then 202 with the payment showing
    the cancel as `pending` (not counted in `refund`), and the payment's
    cancels wait for it; its completion (`done`) or failure (dropped) is
    announced to `webhook_url`. A cancel the PG answers as failed is 422.

    Args:
        idempotency_key (str | Unset):
        body (CancelPaymentHistory): Cancels a payment, wholly or partly.

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
    body: CancelPaymentHistory,
    idempotency_key: str | Unset = UNSET,
) -> ErrorBody | PaymentHistory | None:
    """Cancel a payment

     Cancels a payment wholly or partly at the PG and answers the payment as
    it is afterwards; the change is also announced to its `webhook_url`.
    The cancel is recorded before the PG is called and one cancel of a
    payment runs at a time. Send an `Idempotency-Key`: after a 502/504 (the
    PG's answer was lost) the retry with the same key re-reads the PG and
    answers the cancel it made, sending it again only when the PG shows
    none, so it never refunds twice; 409 while the first attempt is still
    being sent or settled.

    A PG may accept a cancel and complete it later (PortOne `REQUESTED`,
    Toss `IN_PROGRESS`): the answer is then 202 with the payment showing
    the cancel as `pending` (not counted in `refund`), and the payment's
    cancels wait for it; its completion (`done`) or failure (dropped) is
    announced to `webhook_url`. A cancel the PG answers as failed is 422.

    Args:
        idempotency_key (str | Unset):
        body (CancelPaymentHistory): Cancels a payment, wholly or partly.

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
    body: CancelPaymentHistory,
    idempotency_key: str | Unset = UNSET,
) -> Response[ErrorBody | PaymentHistory]:
    """Cancel a payment

     Cancels a payment wholly or partly at the PG and answers the payment as
    it is afterwards; the change is also announced to its `webhook_url`.
    The cancel is recorded before the PG is called and one cancel of a
    payment runs at a time. Send an `Idempotency-Key`: after a 502/504 (the
    PG's answer was lost) the retry with the same key re-reads the PG and
    answers the cancel it made, sending it again only when the PG shows
    none, so it never refunds twice; 409 while the first attempt is still
    being sent or settled.

    A PG may accept a cancel and complete it later (PortOne `REQUESTED`,
    Toss `IN_PROGRESS`): the answer is then 202 with the payment showing
    the cancel as `pending` (not counted in `refund`), and the payment's
    cancels wait for it; its completion (`done`) or failure (dropped) is
    announced to `webhook_url`. A cancel the PG answers as failed is 422.

    Args:
        idempotency_key (str | Unset):
        body (CancelPaymentHistory): Cancels a payment, wholly or partly.

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
    body: CancelPaymentHistory,
    idempotency_key: str | Unset = UNSET,
) -> ErrorBody | PaymentHistory | None:
    """Cancel a payment

     Cancels a payment wholly or partly at the PG and answers the payment as
    it is afterwards; the change is also announced to its `webhook_url`.
    The cancel is recorded before the PG is called and one cancel of a
    payment runs at a time. Send an `Idempotency-Key`: after a 502/504 (the
    PG's answer was lost) the retry with the same key re-reads the PG and
    answers the cancel it made, sending it again only when the PG shows
    none, so it never refunds twice; 409 while the first attempt is still
    being sent or settled.

    A PG may accept a cancel and complete it later (PortOne `REQUESTED`,
    Toss `IN_PROGRESS`): the answer is then 202 with the payment showing
    the cancel as `pending` (not counted in `refund`), and the payment's
    cancels wait for it; its completion (`done`) or failure (dropped) is
    announced to `webhook_url`. A cancel the PG answers as failed is 422.

    Args:
        idempotency_key (str | Unset):
        body (CancelPaymentHistory): Cancels a payment, wholly or partly.

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
