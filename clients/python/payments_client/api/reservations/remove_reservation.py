from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.password_input import PasswordInput
from ...models.payment_reservation import PaymentReservation
from ...types import Response


def _get_kwargs(
    id: UUID,
    *,
    body: PasswordInput,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/payments/reservations/{id}/remove".format(
            id=quote(str(id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json; charset=utf-8"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | PaymentReservation | None:
    if response.status_code == 200:
        response_200 = PaymentReservation.from_dict(response.json())

        return response_200

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
) -> Response[ErrorBody | PaymentReservation]:
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
    body: PasswordInput,
) -> Response[ErrorBody | PaymentReservation]:
    """Remove a saved card

     Removes a saved card, with its password: at the PG where its API
    offers that (Iamport deletes the customer; Toss documents no removal,
    so the billing key is erased here), then here (marked removed; it can
    never be charged again: 410). Payments charged from it stay. Removing
    a removed card answers it as it is.

    Args:
        id (UUID):
        body (PasswordInput): The password of a record.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaymentReservation]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: UUID,
    *,
    client: AuthenticatedClient,
    body: PasswordInput,
) -> ErrorBody | PaymentReservation | None:
    """Remove a saved card

     Removes a saved card, with its password: at the PG where its API
    offers that (Iamport deletes the customer; Toss documents no removal,
    so the billing key is erased here), then here (marked removed; it can
    never be charged again: 410). Payments charged from it stay. Removing
    a removed card answers it as it is.

    Args:
        id (UUID):
        body (PasswordInput): The password of a record.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaymentReservation
    """

    return sync_detailed(
        id=id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    id: UUID,
    *,
    client: AuthenticatedClient,
    body: PasswordInput,
) -> Response[ErrorBody | PaymentReservation]:
    """Remove a saved card

     Removes a saved card, with its password: at the PG where its API
    offers that (Iamport deletes the customer; Toss documents no removal,
    so the billing key is erased here), then here (marked removed; it can
    never be charged again: 410). Payments charged from it stay. Removing
    a removed card answers it as it is.

    Args:
        id (UUID):
        body (PasswordInput): The password of a record.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PaymentReservation]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: UUID,
    *,
    client: AuthenticatedClient,
    body: PasswordInput,
) -> ErrorBody | PaymentReservation | None:
    """Remove a saved card

     Removes a saved card, with its password: at the PG where its API
    offers that (Iamport deletes the customer; Toss documents no removal,
    so the billing key is erased here), then here (marked removed; it can
    never be charged again: 410). Payments charged from it stay. Removing
    a removed card answers it as it is.

    Args:
        id (UUID):
        body (PasswordInput): The password of a record.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PaymentReservation
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            body=body,
        )
    ).parsed
