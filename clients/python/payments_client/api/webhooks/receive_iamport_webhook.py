from http import HTTPStatus
from typing import Any, cast

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.iamport_webhook import IamportWebhook
from ...types import UNSET, Response


def _get_kwargs(
    *,
    body: IamportWebhook | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/payments/webhooks/iamport",
    }

    if isinstance(body, IamportWebhook):
        _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json; charset=utf-8"
    if isinstance(body, IamportWebhook):
        _kwargs["data"] = body.to_dict()
        headers["Content-Type"] = "application/x-www-form-urlencoded"

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
    body: IamportWebhook | Unset = UNSET,
) -> Response[Any | ErrorBody]:
    """Receive an Iamport notification

     Iamport calls this when a payment changes. Only `imp_uid` is trusted:
    the payment is re-read from Iamport, and a change is recorded and
    announced to the payment's `webhook_url`; a payment not registered
    whose `merchant_uid` has a pending order completes that order (`paid`,
    or `ready` for a virtual account issued). `failed` is acknowledged
    without doing anything. A notification that cannot be
    processed at once (Iamport down, the payment not registered yet) is
    kept and retried here, so it is answered 200 all the same.

    Args:
        body (IamportWebhook): What Iamport POSTs when a payment changes (JSON or form-encoded).
            Only the
            ids are trusted: the payment is re-read from Iamport.
        body (IamportWebhook): What Iamport POSTs when a payment changes (JSON or form-encoded).
            Only the
            ids are trusted: the payment is re-read from Iamport.

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
    body: IamportWebhook | Unset = UNSET,
) -> Any | ErrorBody | None:
    """Receive an Iamport notification

     Iamport calls this when a payment changes. Only `imp_uid` is trusted:
    the payment is re-read from Iamport, and a change is recorded and
    announced to the payment's `webhook_url`; a payment not registered
    whose `merchant_uid` has a pending order completes that order (`paid`,
    or `ready` for a virtual account issued). `failed` is acknowledged
    without doing anything. A notification that cannot be
    processed at once (Iamport down, the payment not registered yet) is
    kept and retried here, so it is answered 200 all the same.

    Args:
        body (IamportWebhook): What Iamport POSTs when a payment changes (JSON or form-encoded).
            Only the
            ids are trusted: the payment is re-read from Iamport.
        body (IamportWebhook): What Iamport POSTs when a payment changes (JSON or form-encoded).
            Only the
            ids are trusted: the payment is re-read from Iamport.

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
    body: IamportWebhook | Unset = UNSET,
) -> Response[Any | ErrorBody]:
    """Receive an Iamport notification

     Iamport calls this when a payment changes. Only `imp_uid` is trusted:
    the payment is re-read from Iamport, and a change is recorded and
    announced to the payment's `webhook_url`; a payment not registered
    whose `merchant_uid` has a pending order completes that order (`paid`,
    or `ready` for a virtual account issued). `failed` is acknowledged
    without doing anything. A notification that cannot be
    processed at once (Iamport down, the payment not registered yet) is
    kept and retried here, so it is answered 200 all the same.

    Args:
        body (IamportWebhook): What Iamport POSTs when a payment changes (JSON or form-encoded).
            Only the
            ids are trusted: the payment is re-read from Iamport.
        body (IamportWebhook): What Iamport POSTs when a payment changes (JSON or form-encoded).
            Only the
            ids are trusted: the payment is re-read from Iamport.

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
    body: IamportWebhook | Unset = UNSET,
) -> Any | ErrorBody | None:
    """Receive an Iamport notification

     Iamport calls this when a payment changes. Only `imp_uid` is trusted:
    the payment is re-read from Iamport, and a change is recorded and
    announced to the payment's `webhook_url`; a payment not registered
    whose `merchant_uid` has a pending order completes that order (`paid`,
    or `ready` for a virtual account issued). `failed` is acknowledged
    without doing anything. A notification that cannot be
    processed at once (Iamport down, the payment not registered yet) is
    kept and retried here, so it is answered 200 all the same.

    Args:
        body (IamportWebhook): What Iamport POSTs when a payment changes (JSON or form-encoded).
            Only the
            ids are trusted: the payment is re-read from Iamport.
        body (IamportWebhook): What Iamport POSTs when a payment changes (JSON or form-encoded).
            Only the
            ids are trusted: the payment is re-read from Iamport.

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
