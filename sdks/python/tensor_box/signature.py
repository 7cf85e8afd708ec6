"""Signed file URLs: ``v1_`` + unpadded base64(sha256("<path>:<read|write>:<user>:<accessToken>[:<expiresUnix>]")),
the format E2B's envd verifies."""

from __future__ import annotations

import base64
import hashlib
from typing import Optional


def file_signature(path: str, operation: str, user: str, access_token: str, expires_unix: Optional[int] = None) -> str:
    """The ``signature`` query value for a ``read`` or ``write`` of ``path`` as ``user``."""
    if operation not in ("read", "write"):
        raise ValueError("operation must be 'read' or 'write'")
    raw = f"{path}:{operation}:{user}:{access_token}" + (f":{expires_unix}" if expires_unix else "")
    digest = hashlib.sha256(raw.encode()).digest()
    return "v1_" + base64.b64encode(digest).decode().rstrip("=")
