"""Signed file URLs: ``v1_`` + unpadded base64(sha256("<path>:<read|write>:<user>:<accessToken>[:<expiresUnix>]")),
the format E2B's envd verifies."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any, Optional
from urllib.parse import urlencode


def file_signature(path: str, operation: str, user: str, access_token: str, expires_unix: Optional[int] = None) -> str:
    """The ``signature`` query value for a ``read`` or ``write`` of ``path`` as ``user``."""
    if operation not in ("read", "write"):
        raise ValueError("operation must be 'read' or 'write'")
    raw = f"{path}:{operation}:{user}:{access_token}" + (f":{expires_unix}" if expires_unix else "")
    digest = hashlib.sha256(raw.encode()).digest()
    return "v1_" + base64.b64encode(digest).decode().rstrip("=")


def signed_files_url(
    sandbox: Any, path: str, operation: str, user: str, use_signature_expiration: Optional[int]
) -> str:
    """``sandbox.download_url`` / ``upload_url``: the control plane's files route of the sandbox, signed with its access
    token (when it has one), valid ``use_signature_expiration`` seconds (default: no expiry)."""
    params = {"path": path, "username": user}
    token = sandbox.envd_access_token
    if token:
        exp = int(time.time()) + use_signature_expiration if use_signature_expiration else None
        params["signature"] = file_signature(path, operation, user, token, exp)
        if exp:
            params["signature_expiration"] = str(exp)
    return f"{sandbox.connection_config.api_url}/sandboxes/{sandbox.sandbox_id}/files?{urlencode(params)}"
