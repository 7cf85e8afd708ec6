"""Data types of templates and their builds, read from the REST API's JSON (spec/openapi.yaml: ``Template``,
``TemplateWithBuilds``, ``TemplateBuildInfo``, ``BuildStatusReason``, ``BuildLogEntry``, ``BaseImage``,
``TemplateRequestResponse``). Each ``from_api`` is the one place its shape is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Iterator, List, Optional

from .models import parse_time


@dataclass
class BaseImage:
    """An image templates can be built from: pass ``docker_image`` as ``from_image``. ``status`` is ``ready`` (built
    or pulled here already) or ``available`` (built or pulled on demand); ``source`` is ``mmdebstrap`` or
    ``registry``."""

    docker_image: str
    os_version: str
    codename: str
    status: str
    source: str = ""
    description: Optional[str] = None

    @classmethod
    def from_api(cls, d: Dict[str, Any]) -> "BaseImage":
        return cls(
            d.get("dockerImage", ""),
            d.get("osVersion", ""),
            d.get("codename", ""),
            d.get("status", ""),
            d.get("source", ""),
            d.get("description"),
        )


@dataclass
class BuildLogEntry:
    """One line of a build's log; ``step`` names the build step it belongs to, if any."""

    timestamp: Optional[datetime]
    level: str
    message: str
    step: Optional[str] = None

    @classmethod
    def from_api(cls, d: Dict[str, Any]) -> "BuildLogEntry":
        return cls(parse_time(d.get("timestamp")), d.get("level", "info"), d.get("message", ""), d.get("step"))


def _entries(items: Any) -> List[BuildLogEntry]:
    return [BuildLogEntry.from_api(e) for e in items or []]


@dataclass
class BuildReason:
    """Why a build failed: the message, the failing step's name and its command's exit code, the log's last lines."""

    message: str
    step: Optional[str] = None
    exit_code: Optional[int] = None
    log_entries: List[BuildLogEntry] = field(default_factory=list)

    @classmethod
    def from_api(cls, d: Any) -> Optional["BuildReason"]:
        if not d:
            return None
        if isinstance(d, str):
            return cls(d)
        return cls(d.get("message", ""), d.get("step"), d.get("exitCode"), _entries(d.get("logEntries")))


@dataclass
class TemplateBuild:
    """The state of one build. ``status`` is ``building``, ``waiting``, ``ready`` or ``error`` (then ``reason`` says
    why). ``logs``/``log_entries`` are the log from the ``logs_offset`` asked for (``get_build_status``); the other
    fields are filled for the builds of :meth:`Template.get`."""

    template_id: str
    build_id: str
    status: str
    reason: Optional[BuildReason] = None
    logs: List[str] = field(default_factory=list)
    log_entries: List[BuildLogEntry] = field(default_factory=list)
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    cpu_count: Optional[int] = None
    memory_mb: Optional[int] = None
    disk_size_mb: Optional[int] = None
    envd_version: Optional[str] = None
    source: Optional[str] = None

    @classmethod
    def from_api(cls, d: Dict[str, Any], template_id: str = "", build_id: str = "") -> "TemplateBuild":
        return cls(
            template_id=d.get("templateID") or template_id,
            build_id=d.get("buildID") or build_id,
            status=d.get("status", ""),
            reason=BuildReason.from_api(d.get("reason")),
            logs=list(d.get("logs") or []),
            log_entries=_entries(d.get("logEntries")),
            created_at=parse_time(d.get("createdAt")),
            updated_at=parse_time(d.get("updatedAt")),
            finished_at=parse_time(d.get("finishedAt")),
            cpu_count=d.get("cpuCount"),
            memory_mb=d.get("memoryMB"),
            disk_size_mb=d.get("diskSizeMB"),
            envd_version=d.get("envdVersion"),
            source=d.get("source"),
        )


@dataclass
class BuildLogs:
    """A page of a build's log; iterating it yields the entries. Ask for ``next_offset`` next time."""

    logs: List[BuildLogEntry]
    next_offset: int

    def __iter__(self) -> Iterator[BuildLogEntry]:
        return iter(self.logs)

    def __len__(self) -> int:
        return len(self.logs)

    def __getitem__(self, i: int) -> BuildLogEntry:
        return self.logs[i]


@dataclass
class TemplateCreated:
    """What registering a template (or committing a sandbox) answers: the IDs that start and follow its build.
    Indexing with the wire's keys works too (``created["templateID"]``, ``created["buildID"]``), as in the seeds."""

    template_id: str
    build_id: str
    names: List[str] = field(default_factory=list)
    aliases: List[str] = field(default_factory=list)
    tags: List[str] = field(default_factory=list)
    public: bool = False
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, d: Dict[str, Any]) -> "TemplateCreated":
        return cls(
            d.get("templateID", ""),
            d.get("buildID", ""),
            d.get("names") or [],
            d.get("aliases") or [],
            d.get("tags") or [],
            bool(d.get("public", False)),
            d,
        )

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]


@dataclass
class TemplateInfo:
    """A template (the starting image of sandboxes). ``build_status`` is that of ``build_id``, the build sandboxes
    start from; ``builds`` (newest first) is filled by :meth:`Template.get`."""

    template_id: str
    build_id: str
    build_status: str
    cpu_count: int
    memory_mb: int
    disk_size_mb: int
    names: List[str]
    aliases: List[str] = field(default_factory=list)
    public: bool = False
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    last_spawned_at: Optional[datetime] = None
    build_count: int = 0
    spawn_count: int = 0
    envd_version: str = ""
    start_cmd: Optional[str] = None
    ready_cmd: Optional[str] = None
    parent_template_id: Optional[str] = None
    warm_start: bool = False
    #: ``container`` or ``microvm``; None: the server's default.
    isolation: Optional[str] = None
    builds: List[TemplateBuild] = field(default_factory=list)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, d: Dict[str, Any]) -> "TemplateInfo":
        tid = d.get("templateID", "")
        builds = [TemplateBuild.from_api(b, tid) for b in d.get("builds") or []]
        return cls(
            template_id=tid,
            build_id=d.get("buildID", ""),
            build_status=d.get("buildStatus") or d.get("status", ""),
            cpu_count=d.get("cpuCount", 0),
            memory_mb=d.get("memoryMB", 0),
            disk_size_mb=d.get("diskSizeMB", 0),
            names=d.get("names") or d.get("aliases") or [],
            aliases=d.get("aliases") or [],
            public=bool(d.get("public", False)),
            created_at=parse_time(d.get("createdAt")),
            updated_at=parse_time(d.get("updatedAt")),
            last_spawned_at=parse_time(d.get("lastSpawnedAt")),
            build_count=d.get("buildCount", 0),
            spawn_count=d.get("spawnCount", 0),
            envd_version=d.get("envdVersion") or (builds[0].envd_version if builds else None) or "",
            start_cmd=d.get("startCmd"),
            ready_cmd=d.get("readyCmd"),
            parent_template_id=d.get("parentTemplateID"),
            warm_start=bool(d.get("warmStart", False)),
            isolation=d.get("isolation"),
            builds=builds,
            raw=d,
        )
