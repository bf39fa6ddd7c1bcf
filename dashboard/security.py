"""Who may reach the server and change things through it.

Reading is open to whoever can reach the port; submitting, cancelling, resuming and downloading
checkpoints need the bearer token when the server has one. Without a token the server listens on
loopback only, and refuses requests that name another host (DNS rebinding) or come from another
site's page (cross-site requests to localhost), so a web page the user visits cannot drive it.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from supernas.core.errors import SupernasError

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

bearer = HTTPBearer(
    auto_error=False, description="the server's token (`supernas serve --token` or SUPERNAS_TOKEN)"
)


class ExposureError(SupernasError):
    """The server would be reachable from the network with nothing guarding it."""


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token: anyone on the network could run jobs."""
    if not token and not is_loopback(host):
        raise ExposureError(
            f"refusing to listen on {host} without a token: "
            "set SUPERNAS_TOKEN or --token, or listen on 127.0.0.1"
        )


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Guard a route that changes state or hands out weights: the token when one is set; otherwise
    (loopback) no request started by another site's page."""
    token: str | None = request.app.state.settings.token
    if token:
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401,
                "this server needs its token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, f"cross-site request from {origin} refused")


class LoopbackHostOnly:
    """ASGI middleware for a server without a token: a Host header that is not a loopback name means
    a browser was pointed here through another name (DNS rebinding), so the request is refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            name = urlsplit(f"//{host}").hostname or ""
            if not is_loopback(name):
                await PlainTextResponse(f"host '{host}' is not served here; use 127.0.0.1", 421)(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware: pages run only this server's scripts (plotly's WebGL code needs eval) and are
    never framed by another site (clickjacking the Cancel buttons); the /docs page too (see ``apidocs``)."""

    HEADERS = [
        (
            b"content-security-policy",
            b"default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
            b"img-src 'self' data: blob:; worker-src blob:; frame-ancestors 'none'",
        ),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is known to exceed ``limit`` bytes (before reading it
    all when the client declares its length)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body of {int(declared)} bytes exceeds the limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body exceeds the limit of {limit} bytes")
    return bytes(body)
