"""Listing sandboxes: ``GET /v2/sandboxes`` with its filters (state, metadata, template, started after, order) page by
page — the cursor travels in the ``X-Next-Token`` header. :class:`SandboxPaginator` reads one page per
``next_items()`` (as E2B's and the TypeScript SDK's paginators do); ``Sandbox.list`` reads them all."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional
from urllib.parse import urlencode

from .connection import ConnectionConfig
from .models import SandboxInfo


def list_params(
    state: Optional[List[str]] = None,
    metadata: Optional[Dict[str, str]] = None,
    limit: Optional[int] = None,
    template: Optional[str] = None,
    started_after: Optional[datetime] = None,
    order: Optional[str] = None,
) -> Dict[str, Any]:
    """The query of a listing (``started_after`` naive: UTC)."""
    params: Dict[str, Any] = {}
    if template:
        params["template"] = template
    if started_after is not None:
        when = started_after if started_after.tzinfo else started_after.replace(tzinfo=timezone.utc)
        params["startedAfter"] = when.isoformat()
    if order:
        params["order"] = order
    if state:
        params["state"] = ",".join(state)
    if metadata:
        params["metadata"] = urlencode(metadata)
    if limit:
        params["limit"] = limit
    return params


class SandboxPaginator:
    """Pages of a sandbox listing: ``while p.has_next: items = p.next_items()``; iterating yields every sandbox.

    Example::

        p = Sandbox.paginate(state=["running"], limit=10)
        first = p.next_items(); token = p.next_token   # resume later with Sandbox.paginate(..., next_token=token)
    """

    def __init__(self, config: ConnectionConfig, params: Dict[str, Any], next_token: Optional[str] = None) -> None:
        self._config = config
        self._params = params
        self._token = next_token
        self._started = False

    @property
    def has_next(self) -> bool:
        """Whether another page can be fetched."""
        return not self._started or bool(self._token)

    @property
    def next_token(self) -> Optional[str]:
        """The cursor of the next page (None after the last)."""
        return self._token

    def next_items(self) -> List[SandboxInfo]:
        """Fetches the next page ([] when there is none)."""
        if not self.has_next:
            return []
        params = dict(self._params)
        if self._token:
            params["nextToken"] = self._token
        res = self._config.request("GET", "/v2/sandboxes", params=params, context="list sandboxes")
        self._started = True
        self._token = res.headers.get("x-next-token") or None
        return [SandboxInfo.from_api(s) for s in res.json()]

    def __iter__(self) -> Iterator[SandboxInfo]:
        while self.has_next:
            yield from self.next_items()
