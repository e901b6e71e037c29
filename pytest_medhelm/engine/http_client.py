"""The engine's HTTP side: the aiohttp-backed transport, and what its failures and error answers
say (a transport error's kind, a refused connect's address, Retry-After, the provider's error).

httpx and aiohttp are imported inside the functions that need them, as in :mod:`.core` (start-up
time).
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


def preload_http_client() -> None:
    """Import the HTTP client now, in a daemon thread, so the first request does not wait for it.

    For an engine process: its imports (about 0.35 s) overlap the session's collection, and a
    warm run's cache hits are served meanwhile. A request that comes first waits on the import
    lock, as any import would.
    """

    def load() -> None:
        import aiohttp  # noqa: F401
        import httpx  # noqa: F401
        import httpx_aiohttp  # noqa: F401

    threading.Thread(target=load, name="medhelm-preload", daemon=True).start()


def aiohttp_transport(base_url: str, limit: int) -> httpx.AsyncBaseTransport:
    import aiohttp
    import httpx
    from httpx_aiohttp import AiohttpTransport

    url = httpx.URL(base_url)
    # The environment's proxy is looked up once here: aiohttp's trust_env would look it up again
    # for every request, which costs more than the request itself.
    proxy = None if urllib.request.proxy_bypass(url.host) else urllib.request.getproxies().get(url.scheme)
    # TLS verification (httpx's: certifi, or SSL_CERT_FILE) is set up for an https endpoint only:
    # loading the CA bundle costs 50 ms before the first request, and a plain-http endpoint (a
    # local server) never opens a TLS connection, since redirects are not followed.
    tls = url.scheme == "https"
    transport = AiohttpTransport(
        verify=tls,
        proxy=httpx.Proxy(proxy) if proxy else None,
        client=lambda: aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=limit, **({"ssl": transport.ssl_context} if tls else {}))
        ),
    )
    return transport


def transport_failure(exc: Exception) -> str:
    # httpx-aiohttp maps a dropped connection to httpx.ConnectTimeout: judge by the original error.
    import httpx

    cause = exc.__cause__ or exc
    if isinstance(cause, (TimeoutError, asyncio.TimeoutError)) or (
        cause is exc and isinstance(exc, httpx.TimeoutException)
    ):
        return "timed out"
    return f"connection failed: {type(cause if isinstance(exc, httpx.TimeoutException) else exc).__name__}"


def connect_failure(exc: Exception) -> str | None:
    """``host:port ([Errno N] text)`` when no connection was made (refused, no route, unknown
    host), else None (a timeout, a connection dropped after it was made)."""
    import aiohttp

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, aiohttp.ClientConnectorError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    error = cause.os_error
    number = error.errno
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return None  # a connect that timed out may be a slow server, not a dead one
    text = os.strerror(number) if isinstance(number, int) and number > 0 else (error.strerror or str(error))
    return f"{cause.host}:{cause.port} ([Errno {number}] {text})"


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:  # the HTTP-date form
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unreadable: fall back to our own backoff
    return max(0.0, parsed.timestamp() - time.time())


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    """The credential values among the request headers (the key, without its "Bearer " prefix)."""
    values = [headers.get("x-api-key", ""), headers.get("Authorization", "").removeprefix("Bearer ")]
    return [value for value in values if value]


def error_detail(response: httpx.Response, secrets: list[str], *, include_text: bool = False) -> str:
    """What the provider said about the error: its error type and code only, since the message
    may quote the prompt (patient text) and ends up in terminals, JUnit files and CI logs. With
    ``include_text`` (--medhelm-include-text) the message too, with the API key blanked out (some
    providers quote the rejected key)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    parts = []
    if isinstance(error, dict):
        for field in ("type", "code"):
            value = error.get(field)
            if isinstance(value, (str, int)) and str(value) and len(str(value)) <= 64:
                parts.append(f"{field} {value}")
        message = error.get("message")
    else:
        message = error
    if include_text and message:
        text = str(message)
        for secret in secrets:
            text = text.replace(secret, "[redacted]")
        parts.append(text[:200])
    return f": {', '.join(parts)}" if parts else ""
