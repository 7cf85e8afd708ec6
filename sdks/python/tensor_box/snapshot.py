"""``Snapshot``: save a running sandbox's state without pausing it, list and delete saved snapshots. A snapshot's ID
can be used as a template ID (E2B's ``POST /sandboxes/{id}/snapshots`` and ``GET /snapshots``)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional
from urllib.parse import quote

from .connection import resolve
from .models import SnapshotInfo


class Snapshot:
    """Snapshot calls; every one takes the connection options (``domain``, ``api_key``, …) as keywords."""

    @staticmethod
    def create(sandbox_id: str, name: Optional[str] = None, **conn: Any) -> SnapshotInfo:
        """Snapshots a sandbox (it keeps running).

        Example::

            snap = Snapshot.create(sandbox.sandbox_id, name="before-risky-step")
        """
        body: Dict[str, Any] = {"name": name} if name else {}
        res = resolve(**conn).request(
            "POST", f"/sandboxes/{sandbox_id}/snapshots", json=body, context=f"snapshot sandbox {sandbox_id}"
        )
        info = SnapshotInfo.from_api(res.json(), sandbox_id)
        if name and not info.name:
            info.name = name
        return info

    @staticmethod
    def list(sandbox_id: Optional[str] = None, name: Optional[str] = None, **conn: Any) -> List[SnapshotInfo]:
        """All snapshots (every page), or those of one sandbox / with one name."""
        config = resolve(**conn)
        params: Dict[str, Any] = {k: v for k, v in (("sandboxID", sandbox_id), ("name", name)) if v}
        out: List[SnapshotInfo] = []
        while True:
            res = config.request("GET", "/snapshots", params=params, context="list snapshots")
            out.extend(SnapshotInfo.from_api(s, sandbox_id) for s in res.json())
            token = res.headers.get("x-next-token")
            if not token:
                return out
            params["nextToken"] = token

    @staticmethod
    def delete(snapshot_id: str, **conn: Any) -> bool:
        """Deletes a snapshot (by ID or name) and its images; False when there was none.

        Raises:
            ConflictException: a sandbox or template still uses it.
        """
        res = resolve(**conn).request(
            "DELETE",
            f"/snapshots/{quote(snapshot_id, safe='')}",
            context=f"delete snapshot {snapshot_id}",
            ok_statuses=(404,),
        )
        return res.status_code != 404
