"""``sandbox.fork()``: live copies of a running sandbox (``POST /sandboxes/{id}/fork``; it keeps running). The server
answers one result per copy — a sandbox or the error that copy hit; as in the TypeScript SDK, any error kills the
copies that did start and raises the first error's SDK exception, so nothing is left running half-forked."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .connection import ConnectionConfig
from .exceptions import from_http


def fork_sandbox(
    config: ConnectionConfig, sandbox_id: str, count: Optional[int], timeout_s: Optional[int]
) -> List[Dict[str, Any]]:
    """The API sandboxes (``Sandbox`` constructor data) of ``count`` (default 1) copies of ``sandbox_id``."""
    context = f"fork sandbox {sandbox_id}"
    body: Dict[str, Any] = {}
    if count is not None:
        body["count"] = count
    if timeout_s is not None:
        body["timeout"] = timeout_s
    results = config.request("POST", f"/sandboxes/{sandbox_id}/fork", json=body, context=context).json()
    failed = next((r["error"] for r in results if r.get("error")), None)
    if failed is not None:
        for r in results:
            if r.get("sandbox"):
                try:
                    config.request(
                        "DELETE", f"/sandboxes/{r['sandbox']['sandboxID']}", context=context, ok_statuses=(404,)
                    )
                except Exception:  # noqa: BLE001 - best effort; the fork's own error is the one to report
                    pass
        raise from_http(int(failed.get("code") or 500), failed, context)
    return [r["sandbox"] for r in results]
