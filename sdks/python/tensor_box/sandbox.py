"""``Sandbox``: create, connect to, list and control sandboxes; each instance composes ``files``, ``commands`` and
``pty``. Lifecycle calls exist both on the class (by ID) and on an instance.
Over 400 lines on purpose: the public class mirrors E2B's ``Sandbox``, one method per operation.

Example::

    from tensor_box import Sandbox
    sandbox = Sandbox.create("default", timeout_ms=60_000)
    print(sandbox.commands.run("echo hi").stdout)
    sandbox.kill()
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Dict, List, Optional
from urllib.parse import urlparse

import httpx

from .commands import Commands
from .connection import ConnectionConfig, resolve
from .dual import dualmethod
from .envd.target import DEFAULT_USER, ENVD_PORT, EnvdTarget
from .files import Files
from .fork import fork_sandbox
from .models import LifecycleConfig, SandboxInfo, SandboxLogEntry, SandboxMetrics, SnapshotInfo
from .pty import Pty
from .sandbox_list import SandboxPaginator, list_params
from .signature import signed_files_url

if TYPE_CHECKING:
    from .template_models import TemplateBuild

DEFAULT_TIMEOUT_MS = 300_000


def _seconds(timeout_ms: int) -> int:
    if timeout_ms < 0:
        raise ValueError("timeout_ms must not be negative")
    return -(-int(timeout_ms) // 1000)  # ceil: never shorter than asked


class Sandbox:
    """A sandbox this client is connected to.

    Attributes:
        sandbox_id: the sandbox's ID.
        template_id: the template it was created from.
        sandbox_domain: the domain of its per-port host names (see :meth:`get_host`).
        files, commands, pty: its filesystem, processes and terminals.
        connection_config: where the server is and the key used.
    """

    def __init__(self, data: Dict[str, Any], config: ConnectionConfig) -> None:
        self.sandbox_id: str = data["sandboxID"]
        self.template_id: str = data.get("templateID", "")
        self.connection_config = config
        self.envd_access_token: Optional[str] = data.get("envdAccessToken") or None
        self.traffic_access_token: Optional[str] = data.get("trafficAccessToken") or None
        self.sandbox_domain: str = data.get("domain") or urlparse(config.api_url).netloc
        self._envd = EnvdTarget(config.api_url, self.sandbox_id, self.envd_access_token, config.headers)
        self.files = Files(self._envd)
        self.commands = Commands(self._envd)
        self.pty = Pty(self._envd)

    def __repr__(self) -> str:
        return f"Sandbox(sandbox_id={self.sandbox_id!r}, template_id={self.template_id!r})"

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()

    # --- creating and finding sandboxes -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        template: str = "default",
        timeout_ms: Optional[int] = None,
        envs: Optional[Dict[str, str]] = None,
        metadata: Optional[Dict[str, str]] = None,
        lifecycle: Optional[LifecycleConfig] = None,
        secure: bool = True,
        allow_internet_access: bool = True,
        domain: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout_ms: Optional[int] = None,
        headers: Optional[Dict[str, str]] = None,
        network: Optional[Dict[str, Any]] = None,
        volume_mounts: Optional[Dict[str, Any]] = None,
    ) -> "Sandbox":
        """Creates a sandbox from a template (ID or name).

        Args:
            timeout_ms: inactivity timeout (default 300 000); what happens then is ``lifecycle.on_timeout``.
            envs: environment variables of every process in the sandbox.
            metadata: your labels, usable as a ``Sandbox.list`` filter.
            secure: require the sandbox's access token on every agent call (default True).
            network: E2B's network settings: ``allowPublicTraffic`` (False: ports need ``traffic_access_token`` in
                the ``e2b-traffic-access-token`` header), ``maskRequestHost``, ``allowOut`` / ``denyOut`` (addresses,
                CIDRs, host names in allowOut; allow wins over deny).
            volume_mounts: volumes to mount read-write: sandbox path → :class:`Volume` or volume name.
            domain, api_key: the server (default env ``TENSOR_BOX_DOMAIN`` / ``TENSOR_BOX_API_KEY``).

        Raises:
            NotFoundException: no such template.
        """
        config = resolve(domain, api_key, request_timeout_ms, headers)
        lc = lifecycle or LifecycleConfig()
        if lc.on_timeout not in ("kill", "pause"):
            raise ValueError("lifecycle.on_timeout must be 'kill' or 'pause'")
        if lc.keep_memory is not None and lc.on_timeout != "pause":
            raise ValueError("lifecycle.keep_memory is only allowed with on_timeout='pause'")
        if lc.keep_memory is False and lc.auto_resume:
            raise ValueError("lifecycle.auto_resume cannot be combined with keep_memory=False (resume with connect)")
        body: Dict[str, Any] = {
            "templateID": template,
            "timeout": _seconds(DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms),
            "secure": secure,
            "allow_internet_access": allow_internet_access,
            "autoPause": lc.on_timeout == "pause",
        }
        if metadata:
            body["metadata"] = metadata
        if envs:
            body["envVars"] = envs
        if lc.auto_resume is not None:
            body["autoResume"] = {"enabled": lc.auto_resume}
        if lc.keep_memory is not None:
            body["autoPauseMemory"] = lc.keep_memory
        if network is not None:
            body["network"] = network
        if volume_mounts:
            body["volumeMounts"] = [
                {"path": p, "name": v if isinstance(v, str) else v.name} for p, v in volume_mounts.items()
            ]
        res = config.request("POST", "/sandboxes", json=body, context=f"create sandbox from {template!r}")
        return cls(res.json(), config)

    @classmethod
    def connect(
        cls,
        sandbox_id: str,
        timeout_ms: Optional[int] = None,
        domain: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout_ms: Optional[int] = None,
        headers: Optional[Dict[str, str]] = None,
        on_resume: Optional[str] = None,
    ) -> "Sandbox":
        """Connects to an existing sandbox by ID, resuming it when paused; extends (never shortens) its timeout to
        ``timeout_ms`` (default 300 000). ``on_resume``: ``"restore"`` (default) restores a paused sandbox's memory,
        ``"reboot"`` boots it afresh on its files.

        Raises:
            NotFoundException: the sandbox does not exist (any more).
        """
        config = resolve(domain, api_key, request_timeout_ms, headers)
        return cls(_connect(config, sandbox_id, timeout_ms, on_resume), config)

    @staticmethod
    def list(
        state: Optional[List[str]] = None,
        metadata: Optional[Dict[str, str]] = None,
        limit: Optional[int] = None,
        domain: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout_ms: Optional[int] = None,
        headers: Optional[Dict[str, str]] = None,
        template: Optional[str] = None,
        started_after: Optional[datetime] = None,
        order: Optional[str] = None,
    ) -> List[SandboxInfo]:
        """Lists sandboxes (every page), optionally only those in ``state`` (``running``, ``paused``), carrying
        all of ``metadata``, of ``template`` (ID or name) and started at or after ``started_after`` (naive: UTC);
        ``order`` ``"desc"`` (default, newest first) or ``"asc"``. ``limit`` is the page size."""
        config = resolve(domain, api_key, request_timeout_ms, headers)
        params = list_params(state, metadata, limit, template, started_after, order)
        return list(SandboxPaginator(config, params))

    @staticmethod
    def paginate(
        state: Optional[List[str]] = None,
        metadata: Optional[Dict[str, str]] = None,
        limit: Optional[int] = None,
        template: Optional[str] = None,
        started_after: Optional[datetime] = None,
        order: Optional[str] = None,
        next_token: Optional[str] = None,
        **conn: Any,
    ) -> SandboxPaginator:
        """The same listing page by page (``has_next``, ``next_items()``, ``next_token``), from ``next_token`` on."""
        return SandboxPaginator(
            resolve(**conn), list_params(state, metadata, limit, template, started_after, order), next_token
        )

    # --- lifecycle (class: by ID; instance: this sandbox) -------------------------------------------------------

    @dualmethod
    def kill(self) -> bool:
        """Kills this sandbox; False when it was already gone."""
        return Sandbox.kill(self.sandbox_id, **self.connection_config.kwargs())

    @kill.classmethod
    def _kill_by_id(cls, sandbox_id: str, **conn: Any) -> bool:
        """``Sandbox.kill(sandbox_id)``: kills a sandbox by ID; False when it did not exist."""
        res = resolve(**conn).request(
            "DELETE", f"/sandboxes/{sandbox_id}", context=f"kill sandbox {sandbox_id}", ok_statuses=(404,)
        )
        return res.status_code != 404

    @dualmethod
    def get_info(self) -> SandboxInfo:
        """State, resources, timestamps and metadata of this sandbox."""
        return Sandbox.get_info(self.sandbox_id, **self.connection_config.kwargs())

    @get_info.classmethod
    def _get_info_by_id(cls, sandbox_id: str, **conn: Any) -> SandboxInfo:
        res = resolve(**conn).request("GET", f"/sandboxes/{sandbox_id}", context=f"sandbox {sandbox_id}")
        return SandboxInfo.from_api(res.json())

    @dualmethod
    def set_timeout(self, timeout_ms: int) -> None:
        """Sets the inactivity timeout to ``timeout_ms`` from now (may shorten it)."""
        Sandbox.set_timeout(self.sandbox_id, timeout_ms, **self.connection_config.kwargs())

    @set_timeout.classmethod
    def _set_timeout_by_id(cls, sandbox_id: str, timeout_ms: int, **conn: Any) -> None:
        resolve(**conn).request(
            "POST",
            f"/sandboxes/{sandbox_id}/timeout",
            json={"timeout": _seconds(timeout_ms)},
            context=f"set timeout of {sandbox_id}",
        )

    @dualmethod
    def update_network(self, allow_out: Optional[List[str]] = None, deny_out: Optional[List[str]] = None) -> None:
        """Replaces the outbound rules at once (open connections to newly denied addresses stop)."""
        Sandbox.update_network(self.sandbox_id, allow_out, deny_out, **self.connection_config.kwargs())

    @update_network.classmethod
    def _update_network_by_id(
        cls, sandbox_id: str, allow_out: Optional[List[str]] = None, deny_out: Optional[List[str]] = None, **conn: Any
    ) -> None:
        resolve(**conn).request(
            "PUT",
            f"/sandboxes/{sandbox_id}/network",
            json={"allowOut": allow_out or [], "denyOut": deny_out or []},
            context=f"update network of {sandbox_id}",
        )

    @dualmethod
    def keep_alive(self, duration_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        """Extends the sandbox's life by ``duration_ms`` from now (at most an hour per call; never shortens)."""
        Sandbox.keep_alive(self.sandbox_id, duration_ms, **self.connection_config.kwargs())

    @keep_alive.classmethod
    def _keep_alive_by_id(cls, sandbox_id: str, duration_ms: int = DEFAULT_TIMEOUT_MS, **conn: Any) -> None:
        resolve(**conn).request(
            "POST",
            f"/sandboxes/{sandbox_id}/refreshes",
            json={"duration": min(3600, _seconds(duration_ms))},
            context=f"keep sandbox {sandbox_id} alive",
        )

    @dualmethod
    def pause(self, keep_memory: Optional[bool] = None, mode: Optional[str] = None) -> None:
        """Pauses this sandbox (memory and disk are saved; compute is released). ``keep_memory=False`` (or E2B's
        newer ``mode="filesystem"``; ``"full"`` is the default): only its files are kept (filesystem-only); resuming
        boots it afresh — its processes are gone, the template's start command runs again — and traffic does not
        wake it.

        Raises:
            ConflictException: it is already paused.
        """
        Sandbox.pause(self.sandbox_id, keep_memory=keep_memory, mode=mode, **self.connection_config.kwargs())

    @pause.classmethod
    def _pause_by_id(
        cls, sandbox_id: str, keep_memory: Optional[bool] = None, mode: Optional[str] = None, **conn: Any
    ) -> None:
        if mode not in (None, "full", "filesystem"):
            raise ValueError(f"mode must be 'full' or 'filesystem' (got {mode!r})")
        if mode is not None and keep_memory is not None and keep_memory != (mode == "full"):
            raise ValueError("keep_memory and mode disagree")
        if mode is not None:
            keep_memory = mode == "full"
        body = {} if keep_memory is None else {"memory": keep_memory}
        resolve(**conn).request(
            "POST", f"/sandboxes/{sandbox_id}/pause", json=body, context=f"pause sandbox {sandbox_id}"
        )

    @dualmethod
    def resume(self, timeout_ms: Optional[int] = None) -> None:
        """Resumes this sandbox (a no-op when it runs), optionally extending its timeout to ``timeout_ms``."""
        data = _connect(self.connection_config, self.sandbox_id, timeout_ms)
        # A resumed sandbox may carry a fresh access token.
        token = data.get("envdAccessToken")
        if token and token != self.envd_access_token:
            self.envd_access_token = token
            self._envd.access_token = token
            self._envd.rpc.headers = self._envd.headers()

    @resume.classmethod
    def _resume_by_id(cls, sandbox_id: str, timeout_ms: Optional[int] = None, **conn: Any) -> "Sandbox":
        return cls.connect(sandbox_id, timeout_ms=timeout_ms, **conn)

    @dualmethod
    def get_metrics(self, start: Optional[datetime] = None, end: Optional[datetime] = None) -> List[SandboxMetrics]:
        """Resource-usage samples (CPU %, memory, disk), oldest first."""
        return Sandbox.get_metrics(self.sandbox_id, start=start, end=end, **self.connection_config.kwargs())

    @get_metrics.classmethod
    def _get_metrics_by_id(
        cls, sandbox_id: str, start: Optional[datetime] = None, end: Optional[datetime] = None, **conn: Any
    ) -> List[SandboxMetrics]:
        params = {k: int(v.timestamp()) for k, v in (("start", start), ("end", end)) if v is not None}
        res = resolve(**conn).request(
            "GET", f"/sandboxes/{sandbox_id}/metrics", params=params, context=f"metrics of {sandbox_id}"
        )
        return [SandboxMetrics.from_api(m) for m in res.json()]

    @dualmethod
    def get_logs(
        self,
        start: Optional[datetime] = None,
        limit: Optional[int] = None,
        level: Optional[str] = None,
        search: Optional[str] = None,
    ) -> List[SandboxLogEntry]:
        """Log entries (lifecycle events, agent messages, start-command output), oldest first."""
        return Sandbox.get_logs(
            self.sandbox_id, start=start, limit=limit, level=level, search=search, **self.connection_config.kwargs()
        )

    @get_logs.classmethod
    def _get_logs_by_id(
        cls,
        sandbox_id: str,
        start: Optional[datetime] = None,
        limit: Optional[int] = None,
        level: Optional[str] = None,
        search: Optional[str] = None,
        **conn: Any,
    ) -> List[SandboxLogEntry]:
        params: Dict[str, Any] = {
            "cursor": int(start.timestamp() * 1000) if start else None,
            "limit": limit,
            "level": level,
            "search": search,
        }
        params = {k: v for k, v in params.items() if v is not None}
        res = resolve(**conn).request(
            "GET", f"/v2/sandboxes/{sandbox_id}/logs", params=params, context=f"logs of {sandbox_id}"
        )
        return [SandboxLogEntry.from_api(e) for e in res.json().get("logs") or []]

    def is_running(self, request_timeout_ms: int = 5000) -> bool:
        """Whether the sandbox runs and its agent answers."""
        try:
            res = self._envd.http.get(
                f"{self.connection_config.api_url}/health",
                headers={"E2b-Sandbox-Id": self.sandbox_id, "E2b-Sandbox-Port": str(ENVD_PORT)},
                timeout=request_timeout_ms / 1000,
            )
        except httpx.HTTPError:
            return False
        return res.is_success

    def disconnect(self) -> None:
        """Drops this client's connections; the sandbox keeps running and can be connected to again."""
        self._envd.close()

    # --- addresses ----------------------------------------------------------------------------------------------

    def get_host(self, port: int) -> str:
        """Host name under which ``port`` of the sandbox is reachable: ``<sandbox_id>-<port>.<domain>``."""
        return f"{self.sandbox_id}-{port}.{self.sandbox_domain}"

    def download_url(
        self, path: str, user: Optional[str] = None, use_signature_expiration: Optional[int] = None
    ) -> str:
        """A URL from which the file downloads with a plain GET (curl, a browser), valid ``use_signature_expiration``
        seconds (default: no expiry)."""
        return signed_files_url(self, path, "read", user or DEFAULT_USER, use_signature_expiration)

    def upload_url(self, path: str, user: Optional[str] = None, use_signature_expiration: Optional[int] = None) -> str:
        """A URL to which a file uploads with a POST (multipart ``file`` field or a raw body)."""
        return signed_files_url(self, path, "write", user or DEFAULT_USER, use_signature_expiration)

    # --- snapshots and templates --------------------------------------------------------------------------------

    def create_snapshot(self, name: Optional[str] = None) -> SnapshotInfo:
        """Saves this sandbox's state as a snapshot while it keeps running (see :class:`tensor_box.Snapshot`)."""
        from .snapshot import Snapshot

        return Snapshot.create(self.sandbox_id, name=name, **self.connection_config.kwargs())

    def fork(self, count: Optional[int] = None, timeout_ms: Optional[int] = None) -> List["Sandbox"]:
        """Live copies of this sandbox (it keeps running): each starts with its memory, processes and files.

        Example::

            [copy] = sandbox.fork()

        Raises:
            ConflictException: the sandbox is not running; the copies that did start are killed.
        """
        timeout_s = None if timeout_ms is None else _seconds(timeout_ms)
        return [
            Sandbox(d, self.connection_config)
            for d in fork_sandbox(self.connection_config, self.sandbox_id, count, timeout_s)
        ]

    @dualmethod
    def commit_as_template(self, name: str, **options: Any) -> "TemplateBuild":
        """Turns this sandbox's current filesystem into a reusable template ``name``; the sandbox keeps running. By
        default waits until the build is ready (``wait=False`` returns once it was accepted). Options: ``cpu_count``,
        ``memory_mb``, ``disk_gb``, ``wait``, ``timeout_ms``, ``interval_ms``, ``on_log``.

        Example::

            tpl = sandbox.commit_as_template("ubuntu-with-ffmpeg", cpu_count=2, memory_mb=2048)
            sbx2 = Sandbox.create(tpl.template_id)

        Raises:
            BuildException: the build failed (``.reason``, ``.step``).
        """
        from .template import commit_sandbox

        return commit_sandbox(self.sandbox_id, name, **options, **self.connection_config.kwargs())

    @commit_as_template.classmethod
    def _commit_as_template_by_id(cls, sandbox_id: str, name: str, **options: Any) -> "TemplateBuild":
        """``Sandbox.commit_as_template(sandbox_id, name, …)``: commits a sandbox by ID (connection options as
        keywords)."""
        from .template import commit_sandbox

        return commit_sandbox(sandbox_id, name, **options)


def _connect(
    config: ConnectionConfig, sandbox_id: str, timeout_ms: Optional[int], on_resume: Optional[str] = None
) -> Dict[str, Any]:
    if on_resume not in (None, "restore", "reboot"):
        raise ValueError(f"on_resume must be 'restore' or 'reboot' (got {on_resume!r})")
    body: Dict[str, Any] = {"timeout": _seconds(DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms)}
    if on_resume == "reboot":
        body["memory"] = False
    res = config.request(
        "POST",
        f"/sandboxes/{sandbox_id}/connect",
        json=body,
        context=f"connect to sandbox {sandbox_id}",
    )
    return res.json()
