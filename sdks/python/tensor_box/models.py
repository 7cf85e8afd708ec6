"""The SDK's data types, converted from the REST API's JSON (spec/openapi.yaml) and envd's JSON messages
(spec/envd/*.proto). Names follow Python style; each ``from_api``/``from_envd`` is the one place a shape is read."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Union


def parse_time(value: Any) -> Optional[datetime]:
    """RFC 3339 (``...Z`` too, with any fraction length) → aware datetime; None stays None."""
    if not value:
        return None
    s = str(value).replace("Z", "+00:00")
    # Python < 3.11 accepts only 3 or 6 fraction digits.
    if "." in s:
        head, rest = s.split(".", 1)
        i = 0
        while i < len(rest) and rest[i].isdigit():
            i += 1
        s = f"{head}.{rest[:i][:6].ljust(6, '0')}{rest[i:]}"
    return datetime.fromisoformat(s)


@dataclass
class LifecycleConfig:
    """What happens when the sandbox's inactivity timeout passes.

    Args:
        on_timeout: ``"kill"`` (default) or ``"pause"``.
        auto_resume: with ``on_timeout="pause"``, wake the sandbox on the next request that reaches it.
        keep_memory: with ``on_timeout="pause"``, ``False`` makes that pause filesystem-only (the processes end, the
            files stay; resuming boots the sandbox afresh). Not with ``auto_resume``. Unset: the server's default
            (with memory).
    """

    on_timeout: str = "kill"
    auto_resume: Optional[bool] = None
    keep_memory: Optional[bool] = None


@dataclass
class SandboxInfo:
    """A sandbox as the control plane lists it."""

    sandbox_id: str
    template_id: str
    state: str
    started_at: Optional[datetime]
    end_at: Optional[datetime]
    cpu_count: int
    memory_mb: int
    disk_size_mb: int
    metadata: Dict[str, str]
    envd_version: str
    name: Optional[str] = None
    lifecycle: Optional[LifecycleConfig] = None
    #: E2B's network settings as the server reports them: ``allowPublicTraffic``, ``maskRequestHost``, ``allowOut``,
    #: ``denyOut`` (see docs/network.md).
    network: Optional[Dict[str, Any]] = None
    #: Opens the sandbox's ports when it does not allow public traffic (header ``e2b-traffic-access-token``).
    traffic_access_token: Optional[str] = None
    #: The volumes it mounts: ``[{"name", "path"}]``.
    volume_mounts: List[Dict[str, str]] = field(default_factory=list)
    #: ``container`` or ``microvm`` (None from servers before isolation per sandbox).
    isolation: Optional[str] = None
    #: Why the sandbox is in its state, when the server says (e.g. which node died for a ``lost`` one).
    state_reason: Optional[str] = None
    #: The cluster node that runs it (several nodes sharing one database).
    node_id: Optional[str] = None

    @classmethod
    def from_api(cls, d: Dict[str, Any]) -> "SandboxInfo":
        lc = d.get("lifecycle")
        return cls(
            sandbox_id=d["sandboxID"],
            template_id=d.get("templateID", ""),
            name=d.get("alias"),
            state=d.get("state", "running"),
            started_at=parse_time(d.get("startedAt")),
            end_at=parse_time(d.get("endAt")),
            cpu_count=d.get("cpuCount", 0),
            memory_mb=d.get("memoryMB", 0),
            disk_size_mb=d.get("diskSizeMB", 0),
            metadata=d.get("metadata") or {},
            envd_version=d.get("envdVersion", ""),
            lifecycle=LifecycleConfig(lc.get("onTimeout", "kill"), lc.get("autoResume")) if lc else None,
            network=d.get("network"),
            traffic_access_token=d.get("trafficAccessToken") or None,
            volume_mounts=d.get("volumeMounts") or [],
            isolation=d.get("isolation"),
            state_reason=d.get("stateReason"),
            node_id=d.get("nodeID"),
        )


@dataclass
class SandboxMetrics:
    """One resource-usage sample of a sandbox (bytes for memory and disk)."""

    timestamp: datetime
    cpu_count: int
    cpu_used_pct: float
    mem_used: int
    mem_total: int
    disk_used: int
    disk_total: int

    @classmethod
    def from_api(cls, d: Dict[str, Any]) -> "SandboxMetrics":
        ts = d.get("timestampUnix")
        timestamp = datetime.fromtimestamp(ts, timezone.utc) if ts is not None else parse_time(d.get("timestamp"))
        return cls(
            timestamp=timestamp,  # type: ignore[arg-type]
            cpu_count=d.get("cpuCount", 0),
            cpu_used_pct=float(d.get("cpuUsedPct", 0)),
            mem_used=d.get("memUsed", 0),
            mem_total=d.get("memTotal", 0),
            disk_used=d.get("diskUsed", 0),
            disk_total=d.get("diskTotal", 0),
        )


@dataclass
class SandboxLogEntry:
    """One log line: a lifecycle event, an agent message or start-command output."""

    timestamp: Optional[datetime]
    level: str
    message: str
    fields: Dict[str, str]

    @classmethod
    def from_api(cls, d: Dict[str, Any]) -> "SandboxLogEntry":
        return cls(parse_time(d.get("timestamp")), d.get("level", "info"), d.get("message", ""), d.get("fields") or {})


_FILE_TYPES = {"FILE_TYPE_FILE": "file", "FILE_TYPE_DIRECTORY": "dir", "FILE_TYPE_SYMLINK": "symlink"}


@dataclass
class EntryInfo:
    """A file, directory or symlink in the sandbox. ``type`` is ``file``, ``dir`` or ``symlink``."""

    name: str
    path: str
    type: str
    size: int = 0
    mode: int = 0
    permissions: str = ""
    owner: str = ""
    group: str = ""
    modified_time: Optional[datetime] = None
    symlink_target: Optional[str] = None

    @classmethod
    def from_envd(cls, d: Dict[str, Any]) -> "EntryInfo":
        return cls(
            name=d.get("name", ""),
            path=d.get("path", ""),
            type=_FILE_TYPES.get(d.get("type", ""), "file"),
            size=int(d.get("size", 0)),  # int64 travels as a JSON string
            mode=int(d.get("mode", 0)),
            permissions=d.get("permissions", ""),
            owner=d.get("owner", ""),
            group=d.get("group", ""),
            modified_time=parse_time(d.get("modifiedTime")),
            symlink_target=d.get("symlinkTarget"),
        )


WriteData = Union[str, bytes, bytearray, memoryview]


@dataclass
class WriteEntry:
    """One file of a batch ``files.write([...])``."""

    path: str
    data: Union[WriteData, Any]


_EVENT_TYPES = {
    "EVENT_TYPE_CREATE": "create",
    "EVENT_TYPE_WRITE": "write",
    "EVENT_TYPE_REMOVE": "remove",
    "EVENT_TYPE_RENAME": "rename",
    "EVENT_TYPE_CHMOD": "chmod",
}


@dataclass
class WatchEvent:
    """A change below a watched directory. ``type``: create, write, remove, rename or chmod; ``name`` is relative to
    the watched directory and ``path`` absolute."""

    type: str
    name: str
    path: str

    @classmethod
    def from_envd(cls, d: Dict[str, Any], base: str) -> "WatchEvent":
        name = d.get("name", "")
        return cls(_EVENT_TYPES.get(d.get("type", ""), "write"), name, f"{base.rstrip('/')}/{name}")


@dataclass
class CommandResult:
    """How a command ended. ``error`` is set when it did not exit normally (e.g. killed by a signal)."""

    exit_code: int
    stdout: str
    stderr: str
    error: Optional[str] = None


@dataclass
class ProcessInfo:
    """A process started through the agent that is still running."""

    pid: int
    cmd: str
    args: List[str] = field(default_factory=list)
    envs: Dict[str, str] = field(default_factory=dict)
    cwd: Optional[str] = None
    tag: Optional[str] = None

    @classmethod
    def from_envd(cls, d: Dict[str, Any]) -> "ProcessInfo":
        c = d.get("config") or {}
        return cls(
            int(d.get("pid", 0)), c.get("cmd", ""), c.get("args") or [], c.get("envs") or {}, c.get("cwd"), d.get("tag")
        )


@dataclass
class SnapshotInfo:
    """A saved sandbox state; ``snapshot_id`` can be used as a template ID."""

    snapshot_id: str
    sandbox_id: Optional[str] = None
    name: Optional[str] = None
    names: List[str] = field(default_factory=list)
    template_id: Optional[str] = None  # the template the source sandbox was made from
    created_at: Optional[datetime] = None
    #: ``container`` or ``microvm``: the isolation a sandbox started from it runs in.
    isolation: Optional[str] = None

    @classmethod
    def from_api(cls, d: Dict[str, Any], sandbox_id: Optional[str] = None) -> "SnapshotInfo":
        names = d.get("names") or []
        return cls(
            snapshot_id=d.get("snapshotID") or d.get("snapshotId", ""),
            sandbox_id=d.get("sandboxID") or d.get("sandboxId") or sandbox_id,
            name=d.get("name") or (names[0] if names else None),
            names=names,
            template_id=d.get("templateID"),
            created_at=parse_time(d.get("createdAt")),
            isolation=d.get("isolation"),
        )


def b64(data: bytes) -> str:
    """Bytes as envd's JSON codec carries them."""
    return base64.b64encode(data).decode()


def unb64(s: str) -> bytes:
    return base64.b64decode(s) if s else b""
