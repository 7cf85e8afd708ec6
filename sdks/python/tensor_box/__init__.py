"""Tensor Box Python SDK: self-hostable, E2B-compatible sandboxes.

Example::

    from tensor_box import Sandbox
    with Sandbox.create("default", timeout_ms=60_000) as sandbox:
        print(sandbox.commands.run("echo hello").stdout)
"""

from .command_handle import CommandHandle
from .commands import Commands
from .connection import ConnectionConfig, api_url_from_domain
from .exceptions import (
    AuthenticationException,
    BuildException,
    CommandExitException,
    ConflictException,
    InvalidArgumentException,
    NotEnoughSpaceException,
    NotFoundException,
    PermissionDeniedException,
    RateLimitException,
    SandboxException,
    TimeoutException,
)
from .files import Files
from .models import (
    CommandResult,
    EntryInfo,
    LifecycleConfig,
    ProcessInfo,
    SandboxInfo,
    SandboxLogEntry,
    SandboxMetrics,
    SnapshotInfo,
    WatchEvent,
    WriteEntry,
)
from .pty import Pty, PtyHandle
from .sandbox import Sandbox
from .sandbox_async import (
    AsyncCommandHandle,
    AsyncPtyHandle,
    AsyncSandbox,
    AsyncSandboxPaginator,
    AsyncSnapshot,
    AsyncTemplate,
    AsyncWatchHandle,
)
from .sandbox_list import SandboxPaginator
from .snapshot import Snapshot
from .teams import ApiKey, Team
from .template import Template
from .template_builder import (
    TemplateBuilder,
    wait_for_file,
    wait_for_port,
    wait_for_process,
    wait_for_timeout,
    wait_for_url,
)
from .template_fluent import TemplateBuildInfo
from .template_models import (
    BaseImage,
    BuildLogEntry,
    BuildLogs,
    BuildReason,
    TemplateBuild,
    TemplateCreated,
    TemplateInfo,
)
from .volume import AsyncVolume, Volume, VolumeEntryStat, VolumeInfo
from .watch import WatchHandle

__all__ = [
    "AsyncCommandHandle",
    "AsyncPtyHandle",
    "AsyncSandbox",
    "AsyncSandboxPaginator",
    "AsyncSnapshot",
    "AsyncTemplate",
    "AsyncWatchHandle",
    "AuthenticationException",
    "BaseImage",
    "BuildException",
    "BuildLogEntry",
    "BuildLogs",
    "BuildReason",
    "CommandExitException",
    "CommandHandle",
    "CommandResult",
    "Commands",
    "ConflictException",
    "ConnectionConfig",
    "EntryInfo",
    "Files",
    "InvalidArgumentException",
    "LifecycleConfig",
    "NotEnoughSpaceException",
    "NotFoundException",
    "PermissionDeniedException",
    "ProcessInfo",
    "Pty",
    "PtyHandle",
    "RateLimitException",
    "Sandbox",
    "SandboxException",
    "SandboxInfo",
    "SandboxLogEntry",
    "SandboxPaginator",
    "SandboxMetrics",
    "Snapshot",
    "Team",
    "Volume",
    "AsyncVolume",
    "VolumeEntryStat",
    "VolumeInfo",
    "ApiKey",
    "SnapshotInfo",
    "Template",
    "TemplateBuild",
    "TemplateBuildInfo",
    "TemplateBuilder",
    "TemplateCreated",
    "TemplateInfo",
    "TimeoutException",
    "WatchEvent",
    "WatchHandle",
    "WriteEntry",
    "api_url_from_domain",
    "wait_for_file",
    "wait_for_port",
    "wait_for_process",
    "wait_for_timeout",
    "wait_for_url",
]
