"""The legacy AES wire as an httpx transport under the generated client.

The generated client sends and reads JSON (the operations' `application/json`
form). A caller on the AES envelope (the legacy client without an API key,
or a client not added with `--plain-json`) installs this transport: the JSON
body of every operation marked `x-encrypted` in the document is sealed and
sent as `text/plain`, and a successful `text/plain` answer of those
operations is unsealed back into JSON before the generated code parses it.
Errors are JSON on every route and pass through untouched.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from payments_client import AuthenticatedClient

from ._operations import ENCRYPTED_OPERATIONS
from .cipher import SEALED_CONTENT_TYPE, KeyMaterial, WireCipher

_JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def _pattern(template: str) -> re.Pattern[str]:
    method, path = template.split(" ", 1)
    parts = re.split(r"\{[^/}]+\}", path)
    # The path may sit under the base URL's own path (`https://host/pay/...`).
    return re.compile(f"{method} .*" + "[^/]+".join(re.escape(part) for part in parts) + "$")


_ENCRYPTED = [_pattern(template) for template in ENCRYPTED_OPERATIONS]


def is_encrypted_operation(method: str, path: str) -> bool:
    """Whether `method path` (a request's URL path) is an operation marked
    `x-encrypted` in openapi/payments.json."""
    key = f"{method.upper()} {path}"
    return any(pattern.match(key) for pattern in _ENCRYPTED)


class UnsealedAnswerError(httpx.DecodingError):
    """A successful answer that this transport's key could not unseal."""


class _Sealing:
    def __init__(self, key: KeyMaterial, iv: KeyMaterial) -> None:
        self.cipher = WireCipher(key, iv)

    def seal(self, request: httpx.Request, body: bytes) -> httpx.Request | None:
        if not body or not is_encrypted_operation(request.method, request.url.path):
            return None
        sealed = self.cipher.seal(body).encode("ascii")
        drop = {"content-length", "content-type"}
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in drop]
        headers.append(("Content-Type", SEALED_CONTENT_TYPE))
        return httpx.Request(
            request.method, request.url, headers=headers, content=sealed, extensions=request.extensions
        )

    def opens(self, request: httpx.Request, response: httpx.Response) -> bool:
        content_type = response.headers.get("content-type", "").lower()
        return (
            response.is_success
            and content_type.startswith("text/plain")
            and is_encrypted_operation(request.method, request.url.path)
        )

    def unseal(self, request: httpx.Request, response: httpx.Response, sealed: bytes) -> httpx.Response:
        try:
            json = self.cipher.unseal(sealed) if sealed else ""
        except ValueError as error:
            raise UnsealedAnswerError(
                f"{request.method} {request.url.path}: the answer could not be unsealed with this wire key",
                request=request,
            ) from error
        drop = {"content-type", "content-length", "content-encoding", "transfer-encoding"}
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in drop]
        headers.append(("Content-Type", _JSON_CONTENT_TYPE))
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=json.encode("utf-8"),
            request=request,
            extensions=response.extensions,
        )


class SealedTransport(httpx.BaseTransport):
    """Seals the bodies of encrypted operations and unseals their answers,
    with a wire key and IV, around another transport (by default httpx's)."""

    def __init__(self, key: KeyMaterial, iv: KeyMaterial, inner: httpx.BaseTransport | None = None) -> None:
        self._sealing = _Sealing(key, iv)
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sealed = self._sealing.seal(request, request.read())
        response = self._inner.handle_request(sealed or request)
        if not self._sealing.opens(request, response):
            return response
        try:
            body = response.read()
        finally:
            response.close()
        return self._sealing.unseal(request, response, body)

    def close(self) -> None:
        self._inner.close()


class AsyncSealedTransport(httpx.AsyncBaseTransport):
    """[`SealedTransport`] for the generated `asyncio` functions."""

    def __init__(self, key: KeyMaterial, iv: KeyMaterial, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._sealing = _Sealing(key, iv)
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sealed = self._sealing.seal(request, await request.aread())
        response = await self._inner.handle_async_request(sealed or request)
        if not self._sealing.opens(request, response):
            return response
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        return self._sealing.unseal(request, response, body)

    async def aclose(self) -> None:
        await self._inner.aclose()


def sealed_client(
    base_url: str,
    *,
    key: KeyMaterial,
    iv: KeyMaterial,
    api_key: str | None = None,
    timeout: float = 30.0,
    headers: dict[str, str] | None = None,
    **httpx_args: Any,
) -> AuthenticatedClient:
    """A generated client on the AES wire: with `api_key`, a client's (its
    own wire key and IV, as `payments clients add` printed them); without,
    the legacy client's (the server's connection key and IV). `httpx_args`
    go to its httpx clients (`verify`, `limits`, ...), sync and async.

    The generated operations are typed for an `AuthenticatedClient` (the
    document's security scheme is the API key); the legacy client's is one
    that sends no `Authorization` header.
    """
    extra = dict(headers or {})
    if api_key is not None:
        extra["Authorization"] = f"Bearer {api_key}"
    client = AuthenticatedClient(base_url=base_url, token=api_key or "")
    common: dict[str, Any] = {"base_url": base_url, "headers": extra, "timeout": timeout, **httpx_args}
    client.set_httpx_client(httpx.Client(transport=SealedTransport(key, iv), **common))
    client.set_async_httpx_client(httpx.AsyncClient(transport=AsyncSealedTransport(key, iv), **common))
    return client


__all__ = [
    "AsyncSealedTransport",
    "SealedTransport",
    "UnsealedAnswerError",
    "is_encrypted_operation",
    "sealed_client",
]
