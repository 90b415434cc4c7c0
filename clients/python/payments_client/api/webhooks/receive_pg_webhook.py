from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.receive_pg_webhook_data_body import ReceivePgWebhookDataBody
from ...types import UNSET, Response


def _get_kwargs(
    vendor: str,
    *,
    body: Any | ReceivePgWebhookDataBody | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/payments/webhooks/{vendor}".format(
            vendor=quote(str(vendor), safe=""),
        ),
    }

    if isinstance(body, Any):
        _kwargs["json"] = body

        headers["Content-Type"] = "application/json; charset=utf-8"
    if isinstance(body, ReceivePgWebhookDataBody):
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
    vendor: str,
    *,
    client: AuthenticatedClient | Client,
    body: Any | ReceivePgWebhookDataBody | Unset = UNSET,
) -> Response[Any | ErrorBody]:
    """Receive any PG's notification

     The route of every PG, by its vendor code (`iamport`, `toss.payments`):
    the body is read by that PG's own parser and handled as on the PG's
    named route (`/payments/webhooks/iamport`, `/payments/webhooks/toss`,
    kept for the PGs already configured with them). A vendor this server
    does not serve is 404.

    Args:
        vendor (str):
        body (Any):
        body (ReceivePgWebhookDataBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody]
    """

    kwargs = _get_kwargs(
        vendor=vendor,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    vendor: str,
    *,
    client: AuthenticatedClient | Client,
    body: Any | ReceivePgWebhookDataBody | Unset = UNSET,
) -> Any | ErrorBody | None:
    """Receive any PG's notification

     The route of every PG, by its vendor code (`iamport`, `toss.payments`):
    the body is read by that PG's own parser and handled as on the PG's
    named route (`/payments/webhooks/iamport`, `/payments/webhooks/toss`,
    kept for the PGs already configured with them). A vendor this server
    does not serve is 404.

    Args:
        vendor (str):
        body (Any):
        body (ReceivePgWebhookDataBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody
    """

    return sync_detailed(
        vendor=vendor,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    vendor: str,
    *,
    client: AuthenticatedClient | Client,
    body: Any | ReceivePgWebhookDataBody | Unset = UNSET,
) -> Response[Any | ErrorBody]:
    """Receive any PG's notification

     The route of every PG, by its vendor code (`iamport`, `toss.payments`):
    the body is read by that PG's own parser and handled as on the PG's
    named route (`/payments/webhooks/iamport`, `/payments/webhooks/toss`,
    kept for the PGs already configured with them). A vendor this server
    does not serve is 404.

    Args:
        vendor (str):
        body (Any):
        body (ReceivePgWebhookDataBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody]
    """

    kwargs = _get_kwargs(
        vendor=vendor,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    vendor: str,
    *,
    client: AuthenticatedClient | Client,
    body: Any | ReceivePgWebhookDataBody | Unset = UNSET,
) -> Any | ErrorBody | None:
    """Receive any PG's notification

     The route of every PG, by its vendor code (`iamport`, `toss.payments`):
    the body is read by that PG's own parser and handled as on the PG's
    named route (`/payments/webhooks/iamport`, `/payments/webhooks/toss`,
    kept for the PGs already configured with them). A vendor this server
    does not serve is 404.

    Args:
        vendor (str):
        body (Any):
        body (ReceivePgWebhookDataBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody
    """

    return (
        await asyncio_detailed(
            vendor=vendor,
            client=client,
            body=body,
        )
    ).parsed
