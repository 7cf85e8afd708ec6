"""How the SDK reaches a sandbox's agent (envd): through the control plane's ingress at the API URL, routed by the
``E2b-Sandbox-Id``/``E2b-Sandbox-Port`` headers (so no wildcard DNS is needed), with the sandbox's access token and the
acting user."""

from __future__ import annotations

import base64
from typing import Dict, Optional

import httpx

from .connect import ConnectClient
from .port_gen import ENVD_PORT as ENVD_PORT  # re-exported; written once in spec/envd/envd.yaml

DEFAULT_USER = "user"
# Ask envd for keepalive messages on streams, so idle proxies keep them open and a stopped reader wakes up.
KEEPALIVE_HEADER = {"Keepalive-Ping-Interval": "30"}


def user_header(user: str) -> Dict[str, str]:
    """The header that makes envd run an RPC as ``user``."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:".encode()).decode()}


class EnvdTarget:
    """One sandbox's agent: its routing headers and a pooled Connect client."""

    def __init__(
        self, api_url: str, sandbox_id: str, access_token: Optional[str], headers: Optional[Dict[str, str]] = None
    ):
        self.api_url = api_url
        self.sandbox_id = sandbox_id
        self.access_token = access_token
        self.extra_headers = dict(headers or {})
        self.http = httpx.Client(timeout=httpx.Timeout(60.0, read=None))
        self.rpc = ConnectClient(api_url, self.headers(), self.http)

    def headers(self, user: Optional[str] = None) -> Dict[str, str]:
        """Headers every envd call carries (plus the user header when ``user`` is given)."""
        h = {"E2b-Sandbox-Id": self.sandbox_id, "E2b-Sandbox-Port": str(ENVD_PORT), **self.extra_headers}
        if self.access_token:
            h["X-Access-Token"] = self.access_token
        if user:
            h.update(user_header(user))
        return h

    def close(self) -> None:
        self.http.close()
