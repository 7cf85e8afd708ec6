"""Connection settings shared by every call: where the server is, how to authenticate, and the HTTP client that
carries the API key. The one REST error mapping lives in :meth:`ConnectionConfig.request`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import httpx

from .exceptions import AuthenticationException, SandboxException, TimeoutException, from_http

DEFAULT_DOMAIN = "http://127.0.0.1:3000"
DEFAULT_REQUEST_TIMEOUT_MS = 60_000

_LOCAL_HOST = re.compile(r"^(localhost|127\.|\[::1\]|0\.0\.0\.0)|^\d+\.\d+\.\d+\.\d+(:\d+)?$")


def api_url_from_domain(domain: str) -> str:
    """Turns ``domain`` (URL or bare host) into the API base URL: bare local hosts get http, others https."""
    d = domain.rstrip("/")
    if re.match(r"^https?://", d):
        return d
    return f"{'http' if _LOCAL_HOST.search(d) else 'https'}://{d}"


@dataclass
class ConnectionConfig:
    """Where the server is and how to talk to it.

    Args:
        domain: control-plane URL or host, e.g. ``https://app.tos.run`` or ``127.0.0.1:3000``.
            Default: env ``TENSOR_BOX_DOMAIN``, else ``http://127.0.0.1:3000``.
        api_key: the API key (``e2b_…``). Default: env ``TENSOR_BOX_API_KEY``.
        request_timeout_ms: timeout of each control-plane request (default 60 000; 0 = none).
        headers: extra headers sent with every request.
    """

    domain: Optional[str] = None
    api_key: Optional[str] = None
    request_timeout_ms: Optional[int] = None
    headers: Dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.domain = self.domain or os.environ.get("TENSOR_BOX_DOMAIN") or DEFAULT_DOMAIN
        self.api_key = self.api_key or os.environ.get("TENSOR_BOX_API_KEY") or ""
        if self.request_timeout_ms is None:
            self.request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS
        self.api_url = api_url_from_domain(self.domain)

    @property
    def timeout_s(self) -> Optional[float]:
        return self.request_timeout_ms / 1000 if self.request_timeout_ms else None

    def kwargs(self) -> Dict[str, Any]:
        """The options to build an equal config (what instance methods pass on to static ones)."""
        return {
            "domain": self.api_url,
            "api_key": self.api_key,
            "request_timeout_ms": self.request_timeout_ms,
            "headers": dict(self.headers),
        }

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Dict[str, Any]] = None,
        context: str = "",
        ok_statuses: tuple = (),
    ) -> httpx.Response:
        """Sends one REST request with the API key; raises the mapped SDK error on a non-2xx status (except those in
        ``ok_statuses``, which the caller handles)."""
        if not self.api_key:
            raise AuthenticationException("no API key: pass api_key= or set TENSOR_BOX_API_KEY")
        headers = {"X-API-Key": self.api_key, **self.headers}
        try:
            with httpx.Client(base_url=self.api_url, timeout=self.timeout_s) as client:
                res = client.request(method, path, json=json, params=params, headers=headers)
        except httpx.TimeoutException as e:
            raise TimeoutException(f"{context}: request timed out" if context else "request timed out") from e
        except httpx.HTTPError as e:
            raise SandboxException(f"{context}: {e}" if context else str(e)) from e
        if res.is_success or res.status_code in ok_statuses:
            return res
        raise from_http(res.status_code, _body(res), context)


def _body(res: httpx.Response) -> Any:
    try:
        return res.json()
    except ValueError:
        return res.text


def resolve(
    domain: Optional[str] = None,
    api_key: Optional[str] = None,
    request_timeout_ms: Optional[int] = None,
    headers: Optional[Dict[str, str]] = None,
) -> ConnectionConfig:
    """Builds a :class:`ConnectionConfig` from keyword arguments and the environment."""
    return ConnectionConfig(
        domain=domain, api_key=api_key, request_timeout_ms=request_timeout_ms, headers=headers or {}
    )
