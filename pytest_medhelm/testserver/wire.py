"""HTTP/1.1 on asyncio streams: reading a request (head, Content-Length or chunked body,
``Expect: 100-continue``, keep-alive) and writing a response.

Hand-written rather than ``http.server`` or a framework: the faults need raw control of the bytes
on the wire (see the package docstring).
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import re
from typing import Dict, Iterable, List, Optional, Tuple

REASONS: Dict[int, str] = {s.value: s.phrase for s in http.HTTPStatus}

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024


class HTTPError(Exception):
    """A request we refuse at the protocol level; the connection is closed after."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Request:
    __slots__ = ("method", "path", "version", "headers", "body", "keep_alive")

    def __init__(self, method: str, path: str, version: str, headers: Dict[str, str], body: bytes, keep_alive: bool):
        self.method = method
        self.path = path
        self.version = version
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive


_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")  # RFC 9110 token


def _is_token(s: str) -> bool:
    return _TOKEN_RE.match(s) is not None


def parse_head(head: bytes) -> Tuple[str, str, str, Dict[str, str]]:
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise HTTPError(400, "malformed request line")
    method, target, version = parts
    if not _is_token(method):
        raise HTTPError(400, "malformed request method")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        if version.startswith("HTTP/"):
            raise HTTPError(505, f"unsupported HTTP version {version}")
        raise HTTPError(400, "malformed request line")
    if target.startswith("/"):
        path = target.split("?", 1)[0].split("#", 1)[0]
    elif target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        path = "/" if slash < 0 else rest[slash:].split("?", 1)[0]
    else:
        raise HTTPError(400, "malformed request target")
    headers: Dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            raise HTTPError(400, "obsolete header line folding is not supported")
        name, sep, value = line.partition(":")
        if not sep or not _is_token(name):
            raise HTTPError(400, "malformed header line")
        name = name.lower()
        value = value.strip(" \t")
        if name in headers:
            if name == "content-length":
                if headers[name] != value:
                    raise HTTPError(400, "conflicting Content-Length headers")
                continue
            headers[name] = headers[name] + ", " + value
        else:
            headers[name] = value
    return method, path, version, headers


def fmt_retry_after(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if float(value).is_integer():
        return str(int(value))
    return ("%.3f" % value).rstrip("0").rstrip(".")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Optional[Request]:
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial.strip():
                return None  # clean close between requests
            raise HTTPError(400, "incomplete request head") from None
        except asyncio.LimitOverrunError:
            raise HTTPError(431, "request head too large") from None
        head = head.lstrip(b"\r\n")  # tolerate stray CRLFs between requests
        if head:
            break
    method, path, version, headers = parse_head(head)

    te = headers.get("transfer-encoding")
    if te is not None:
        if "content-length" in headers:
            raise HTTPError(400, "both Transfer-Encoding and Content-Length given")
        if te.lower() != "chunked":
            raise HTTPError(501, f"unsupported Transfer-Encoding {te!r}")
        maybe_continue(headers, version, writer)
        body = await read_chunked(reader)
    else:
        cl = headers.get("content-length")
        if cl is None:
            if method in ("POST", "PUT", "PATCH"):
                # Without a length the body cannot be delimited on a persistent connection.
                raise HTTPError(411, "Content-Length required")
            length = 0
        else:
            if not (cl.isascii() and cl.isdigit()):
                raise HTTPError(400, "malformed Content-Length")
            length = int(cl)
        if length > MAX_BODY_BYTES:
            raise HTTPError(413, "request body too large")
        if length:
            maybe_continue(headers, version, writer)
            body = await reader.readexactly(length)
        else:
            body = b""

    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if version == "HTTP/1.1":
        keep_alive = "close" not in tokens
    else:
        keep_alive = "keep-alive" in tokens
    return Request(method, path, version, headers, body, keep_alive)


def maybe_continue(headers: Dict[str, str], version: str, writer: asyncio.StreamWriter) -> None:
    if version == "HTTP/1.1" and headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: List[bytes] = []
    total = 0
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError:
            raise HTTPError(400, "chunk size line too long") from None
        size_text = line[:-2].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise HTTPError(400, "malformed chunk size") from None
        if size < 0 or size_text.startswith((b"+", b"-")):
            raise HTTPError(400, "malformed chunk size")
        if size == 0:
            while True:  # trailers, up to the blank line
                trailer = await reader.readuntil(b"\r\n")
                if trailer == b"\r\n":
                    return b"".join(chunks)
        total += size
        if total > MAX_BODY_BYTES:
            raise HTTPError(413, "request body too large")
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise HTTPError(400, "malformed chunk terminator")


async def send(
    writer: asyncio.StreamWriter,
    status: int,
    payload: bytes,
    *,
    keep_alive: bool,
    content_type: str = "application/json",
    extra_headers: Iterable[Tuple[str, str]] = (),
) -> None:
    head = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n",
        f"Content-Type: {content_type}\r\n",
        f"Content-Length: {len(payload)}\r\n",
        "Server: medhelm-testserver\r\n",
        "Connection: keep-alive\r\n" if keep_alive else "Connection: close\r\n",
    ]
    for name, value in extra_headers:
        head.append(f"{name}: {value}\r\n")
    head.append("\r\n")
    writer.write("".join(head).encode("latin-1") + payload)
    await writer.drain()


# ---------------------------------------------------------------- routing
