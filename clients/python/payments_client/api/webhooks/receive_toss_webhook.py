from http import HTTPStatus
from typing import Any, cast

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.toss_webhook import TossWebhook
from ...types import Response


def _get_kwargs(
    *,
    body: TossWebhook,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/payments/webhooks/toss",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json; charset=utf-8"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | ErrorBody | None:
    if response.status_code == 200:
        response_200 = cast(Any, None)
        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

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

    if response.status_code == 500:
        response_500 = ErrorBody.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: TossWebhook,
) -> Response[Any | ErrorBody]:
    """Receive a Toss Payments notification

     Toss Payments calls this when a payment changes. `PAYMENT_STATUS_CHANGED`
    is trusted for its `data.paymentKey` only, `CANCEL_STATUS_CHANGED` for
    its `data.transactionKey` (the payment recorded here with that cancel),
    and the flat virtual-account deposit callback for its `orderId` once its
    `secret` is the one Toss gave for that payment (another secret answers
    403 and changes nothing): the payment is re-read from Toss, and a change
    is recorded and announced to the payment's `webhook_url`. Every other
    event type is answered 200 and logged. A notification that cannot be
    processed at once (Toss down, the payment not registered yet) is kept
    and retried here, so it is answered 200 all the same; one that moves no
    money about a payment not registered here (a virtual account just
    issued) is only acknowledged. A delivery Toss repeats (the same
    `tosspayments-webhook-transmission-id` and body) after it was answered
    200 is answered 200 again without reading Toss.

    Args:
        body (TossWebhook): What Toss Payments POSTs: an event `{eventType, createdAt, data}`
            (`PAYMENT_STATUS_CHANGED` with the payment in `data`, `CANCEL_STATUS_CHANGED`,
            `BILLING_DELETED`, and any type Toss adds, acknowledged), or the flat
            virtual-account deposit callback `{createdAt, secret, status,
            transactionKey, orderId}`, genuine only when `secret` is the one Toss gave
            for that payment. Only identifiers are trusted: the payment is re-read.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: TossWebhook,
) -> Any | ErrorBody | None:
    """Receive a Toss Payments notification

     Toss Payments calls this when a payment changes. `PAYMENT_STATUS_CHANGED`
    is trusted for its `data.paymentKey` only, `CANCEL_STATUS_CHANGED` for
    its `data.transactionKey` (the payment recorded here with that cancel),
    and the flat virtual-account deposit callback for its `orderId` once its
    `secret` is the one Toss gave for that payment (another secret answers
    403 and changes nothing): the payment is re-read from Toss, and a change
    is recorded and announced to the payment's `webhook_url`. Every other
    event type is answered 200 and logged. A notification that cannot be
    processed at once (Toss down, the payment not registered yet) is kept
    and retried here, so it is answered 200 all the same; one that moves no
    money about a payment not registered here (a virtual account just
    issued) is only acknowledged. A delivery Toss repeats (the same
    `tosspayments-webhook-transmission-id` and body) after it was answered
    200 is answered 200 again without reading Toss.

    Args:
        body (TossWebhook): What Toss Payments POSTs: an event `{eventType, createdAt, data}`
            (`PAYMENT_STATUS_CHANGED` with the payment in `data`, `CANCEL_STATUS_CHANGED`,
            `BILLING_DELETED`, and any type Toss adds, acknowledged), or the flat
            virtual-account deposit callback `{createdAt, secret, status,
            transactionKey, orderId}`, genuine only when `secret` is the one Toss gave
            for that payment. Only identifiers are trusted: the payment is re-read.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: TossWebhook,
) -> Response[Any | ErrorBody]:
    """Receive a Toss Payments notification

     Toss Payments calls this when a payment changes. `PAYMENT_STATUS_CHANGED`
    is trusted for its `data.paymentKey` only, `CANCEL_STATUS_CHANGED` for
    its `data.transactionKey` (the payment recorded here with that cancel),
    and the flat virtual-account deposit callback for its `orderId` once its
    `secret` is the one Toss gave for that payment (another secret answers
    403 and changes nothing): the payment is re-read from Toss, and a change
    is recorded and announced to the payment's `webhook_url`. Every other
    event type is answered 200 and logged. A notification that cannot be
    processed at once (Toss down, the payment not registered yet) is kept
    and retried here, so it is answered 200 all the same; one that moves no
    money about a payment not registered here (a virtual account just
    issued) is only acknowledged. A delivery Toss repeats (the same
    `tosspayments-webhook-transmission-id` and body) after it was answered
    200 is answered 200 again without reading Toss.

    Args:
        body (TossWebhook): What Toss Payments POSTs: an event `{eventType, createdAt, data}`
            (`PAYMENT_STATUS_CHANGED` with the payment in `data`, `CANCEL_STATUS_CHANGED`,
            `BILLING_DELETED`, and any type Toss adds, acknowledged), or the flat
            virtual-account deposit callback `{createdAt, secret, status,
            transactionKey, orderId}`, genuine only when `secret` is the one Toss gave
            for that payment. Only identifiers are trusted: the payment is re-read.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: TossWebhook,
) -> Any | ErrorBody | None:
    """Receive a Toss Payments notification

     Toss Payments calls this when a payment changes. `PAYMENT_STATUS_CHANGED`
    is trusted for its `data.paymentKey` only, `CANCEL_STATUS_CHANGED` for
    its `data.transactionKey` (the payment recorded here with that cancel),
    and the flat virtual-account deposit callback for its `orderId` once its
    `secret` is the one Toss gave for that payment (another secret answers
    403 and changes nothing): the payment is re-read from Toss, and a change
    is recorded and announced to the payment's `webhook_url`. Every other
    event type is answered 200 and logged. A notification that cannot be
    processed at once (Toss down, the payment not registered yet) is kept
    and retried here, so it is answered 200 all the same; one that moves no
    money about a payment not registered here (a virtual account just
    issued) is only acknowledged. A delivery Toss repeats (the same
    `tosspayments-webhook-transmission-id` and body) after it was answered
    200 is answered 200 again without reading Toss.

    Args:
        body (TossWebhook): What Toss Payments POSTs: an event `{eventType, createdAt, data}`
            (`PAYMENT_STATUS_CHANGED` with the payment in `data`, `CANCEL_STATUS_CHANGED`,
            `BILLING_DELETED`, and any type Toss adds, acknowledged), or the flat
            virtual-account deposit callback `{createdAt, secret, status,
            transactionKey, orderId}`, genuine only when `secret` is the one Toss gave
            for that payment. Only identifiers are trusted: the payment is re-read.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
