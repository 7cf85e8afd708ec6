"""``Template``: list base images and templates, build custom templates (``create`` → ``start_build`` →
``wait_for_build`` or your own polling of ``get_build_status``), look them up, delete them; and ``commit_sandbox``,
behind ``sandbox.commit_as_template``. Paths and shapes are spec/openapi.yaml's: E2B's build API
(``POST /v3/templates``, ``POST /v2/templates/{id}/builds/{build}``, ``GET …/status``, ``GET …/logs``) plus Tensor
Box's ``GET /templates/base-images`` and ``POST /sandboxes/{id}/commit``.

Example::

    from tensor_box import Sandbox, Template
    created = Template.create(name="agent-runtime", cpu_count=2, memory_mb=2048)
    Template.start_build(created.template_id, created.build_id, from_template="default",
                         steps=[{"name": "deps", "command": "pip install numpy"}])
    Template.wait_for_build(created.template_id, created.build_id, on_log=lambda e: print(e.message))
    sandbox = Sandbox.create("agent-runtime")
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Callable, Dict, List, Optional, Union
from urllib.parse import quote

import httpx

from .connection import resolve
from .exceptions import BuildException, SandboxException, TimeoutException, from_http
from .template_builder import TemplateBuilder
from .template_fluent import build_template
from .template_models import BaseImage, BuildLogEntry, BuildLogs, TemplateBuild, TemplateCreated, TemplateInfo

DEFAULT_INTERVAL_MS = 500


def _steps(steps: Optional[List[Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """The seeds' ``{"name", "command"}`` steps as E2B RUN steps ``{"type": "RUN", "args": [command], "name"}``;
    steps that already have a ``type`` (RUN, ENV, WORKDIR, USER with ``args``) pass as they are."""
    out = []
    for s in steps or []:
        if "type" in s:
            out.append(s)
            continue
        step: Dict[str, Any] = {"type": "RUN", "args": [s["command"]]}
        if s.get("name"):
            step["name"] = s["name"]
        if s.get("force"):
            step["force"] = True
        out.append(step)
    return out


def _without_none(**fields: Any) -> Dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class Template(TemplateBuilder):
    """``Template()`` starts a fluent definition (:class:`TemplateBuilder`) that ``Template.build(t, alias=…)``
    builds; the static calls are the two-step build API. Every call takes the connection options (``domain``,
    ``api_key``, ``request_timeout_ms``, ``headers``) as keywords."""

    build = staticmethod(build_template)

    @staticmethod
    def upload_files(template_id: str, tar: Union[bytes, str], **conn: Any) -> Dict[str, Any]:
        """Uploads a tar (bytes or a file path) for COPY steps or a Dockerfile's context unless the server already has
        it; returns ``{"hash": <sha256 hex>, "uploaded": bool}`` — pass the hash as ``files_hash``."""
        if isinstance(tar, str):
            with open(tar, "rb") as f:
                tar = f.read()
        digest = hashlib.sha256(tar).hexdigest()
        config = resolve(**conn)
        link = config.request(
            "GET", f"/templates/{template_id}/files/{digest}", context=f"files of template {template_id}"
        ).json()
        if link.get("present"):
            return {"hash": digest, "uploaded": False}
        url = link.get("url") or f"{config.api_url}/templates/{quote(template_id, safe='')}/files/{digest}"
        headers = {"X-API-Key": config.api_key or "", "content-type": "application/octet-stream", **config.headers}
        try:
            res = httpx.put(url, content=tar, headers=headers, timeout=config.timeout_s)
        except httpx.HTTPError as e:
            raise SandboxException(f"upload files of template {template_id}: {e}") from e
        if not res.is_success:
            try:
                body: Any = res.json()
            except ValueError:
                body = res.text
            raise from_http(res.status_code, body, f"upload files of template {template_id}")
        return {"hash": digest, "uploaded": True}

    @staticmethod
    def list_base_images(**conn: Any) -> List[BaseImage]:
        """Base images templates can be built from (``from_image`` values)."""
        res = resolve(**conn).request("GET", "/templates/base-images", context="list base images")
        return [BaseImage.from_api(b) for b in res.json()]

    @staticmethod
    def list(**conn: Any) -> List[TemplateInfo]:
        """Templates visible to the key."""
        res = resolve(**conn).request("GET", "/templates", context="list templates")
        return [TemplateInfo.from_api(t) for t in res.json()]

    @staticmethod
    def get(template_id: str, **conn: Any) -> TemplateInfo:
        """One template (by ID or name) with its builds, newest first.

        Raises:
            NotFoundException: no such template.
        """
        res = resolve(**conn).request("GET", f"/templates/{template_id}", context=f"template {template_id}")
        return TemplateInfo.from_api(res.json())

    @staticmethod
    def exists(name: str, **conn: Any) -> bool:
        """Whether a template with this name (or ID) exists."""
        res = resolve(**conn).request(
            "GET", f"/templates/aliases/{name}", context=f"look up template {name}", ok_statuses=(404,)
        )
        return res.status_code != 404

    @staticmethod
    def delete(template_id: str, **conn: Any) -> bool:
        """Deletes a template (by ID or name) and its layers; False when there was none.

        Raises:
            ConflictException: sandboxes, snapshots or other templates still use it.
        """
        res = resolve(**conn).request(
            "DELETE", f"/templates/{template_id}", context=f"delete template {template_id}", ok_statuses=(404,)
        )
        return res.status_code != 404

    @staticmethod
    def create(
        name: str,
        cpu_count: Optional[int] = None,
        memory_mb: Optional[int] = None,
        disk_gb: Optional[int] = None,
        tags: Optional[List[str]] = None,
        isolation: Optional[str] = None,
        **conn: Any,
    ) -> TemplateCreated:
        """Registers template ``name`` (``name[:tag]``, usable wherever a template ID is) and its first build;
        then call :meth:`start_build` with ``created.template_id``/``created.build_id`` (or
        ``created["templateID"]``/``created["buildID"]``). ``isolation`` (``"container"`` or ``"microvm"``) is
        what its sandboxes run in unless a create says otherwise (default: the server's)."""
        body = _without_none(
            name=name,
            cpuCount=cpu_count,
            memoryMB=memory_mb,
            tags=tags,
            isolation=isolation,
            diskSizeMB=disk_gb * 1024 if disk_gb is not None else None,
        )
        res = resolve(**conn).request("POST", "/v3/templates", json=body, context=f"create template {name!r}")
        return TemplateCreated.from_api(res.json())

    @staticmethod
    def start_build(
        template_id: str,
        build_id: str,
        from_template: Optional[str] = None,
        from_image: Optional[str] = None,
        dockerfile: Optional[str] = None,
        steps: Optional[List[Dict[str, Any]]] = None,
        start_cmd: Optional[str] = None,
        ready_cmd: Optional[str] = None,
        force: bool = False,
        files_hash: Optional[str] = None,
        **conn: Any,
    ) -> None:
        """Starts a registered build from exactly one source — ``from_template`` (a ready template's ID or name),
        ``from_image`` (see :meth:`list_base_images`) or ``dockerfile`` — then ``steps`` in order
        (``[{"name", "command"}]``). ``start_cmd`` runs in every sandbox of the template; with ``ready_cmd`` (polled
        until it exits 0) the template is captured with it running. Returns once the server accepted the build."""
        sources = [s for s in (from_template, from_image, dockerfile) if s]
        if len(sources) != 1:
            raise ValueError("give exactly one of from_template, from_image, dockerfile")
        body = _without_none(
            fromTemplate=from_template or None,
            fromImage=from_image or None,
            dockerfile=dockerfile or None,
            startCmd=start_cmd or None,
            readyCmd=ready_cmd or None,
            filesHash=files_hash or None,
        )
        body.update(steps=_steps(steps), force=force)
        resolve(**conn).request(
            "POST",
            f"/v2/templates/{template_id}/builds/{build_id}",
            json=body,
            context=f"start build {build_id} of template {template_id}",
        )

    @staticmethod
    def get_build_status(
        template_id: str,
        build_id: str,
        logs_offset: int = 0,
        limit: Optional[int] = None,
        level: Optional[str] = None,
        **conn: Any,
    ) -> TemplateBuild:
        """The build's status (``building``, ``waiting``, ``ready``, ``error`` with ``reason``) and its log from
        ``logs_offset`` (entries already seen) on."""
        params = _without_none(logsOffset=logs_offset or None, limit=limit, level=level)
        res = resolve(**conn).request(
            "GET",
            f"/templates/{template_id}/builds/{build_id}/status",
            params=params,
            context=f"status of build {build_id}",
        )
        return TemplateBuild.from_api(res.json(), template_id, build_id)

    @staticmethod
    def get_build_logs(
        template_id: str,
        build_id: str,
        offset: int = 0,
        limit: Optional[int] = None,
        level: Optional[str] = None,
        **conn: Any,
    ) -> BuildLogs:
        """A build's log entries from ``offset`` on; iterate the result, and pass its ``next_offset`` to read on."""
        params = _without_none(offset=offset or None, limit=limit, level=level)
        res = resolve(**conn).request(
            "GET",
            f"/templates/{template_id}/builds/{build_id}/logs",
            params=params,
            context=f"logs of build {build_id}",
        )
        data = res.json()
        logs = [BuildLogEntry.from_api(e) for e in data.get("logs") or []]
        return BuildLogs(logs, data.get("nextOffset", offset + len(logs)))

    @staticmethod
    def wait_for_build(
        template_id: str,
        build_id: str,
        timeout_ms: Optional[int] = None,
        interval_ms: int = DEFAULT_INTERVAL_MS,
        on_log: Optional[Callable[[BuildLogEntry], None]] = None,
        **conn: Any,
    ) -> TemplateBuild:
        """Polls the build's status every ``interval_ms`` until it is ``ready`` and returns it; ``on_log`` receives
        each new log entry. ``timeout_ms`` bounds the wait (default: as long as the build runs).

        Raises:
            BuildException: the build failed; ``.reason``, ``.step`` and ``.exit_code`` say why.
            TimeoutException: not ready within ``timeout_ms``.
        """
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None
        seen = 0
        while True:
            b = Template.get_build_status(template_id, build_id, logs_offset=seen, **conn)
            seen += len(b.log_entries)
            if on_log:
                for entry in b.log_entries:
                    on_log(entry)
            if b.status == "ready":
                return b
            if b.status == "error":
                raise BuildException(b.template_id, b.build_id, b.reason)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutException(
                    f"build {build_id} of template {template_id} not ready after {timeout_ms} ms (status {b.status})"
                )
            time.sleep(interval_ms / 1000)


def commit_sandbox(
    sandbox_id: str,
    name: str,
    cpu_count: Optional[int] = None,
    memory_mb: Optional[int] = None,
    disk_gb: Optional[int] = None,
    wait: bool = True,
    timeout_ms: Optional[int] = None,
    interval_ms: int = DEFAULT_INTERVAL_MS,
    on_log: Optional[Callable[[BuildLogEntry], None]] = None,
    **conn: Any,
) -> TemplateBuild:
    """Turns a running sandbox's filesystem into template ``name`` (``POST /sandboxes/{id}/commit``; the sandbox keeps
    running). With ``wait`` (default) returns once the build is ready (raising :class:`BuildException` if it fails);
    with ``wait=False`` as soon as the server accepted it (with the build's current status) — follow it with
    ``Template.get_build_status``. The result's ``template_id`` (or ``name``) creates sandboxes from it."""
    body = _without_none(
        name=name, cpuCount=cpu_count, memoryMB=memory_mb, diskSizeMB=disk_gb * 1024 if disk_gb is not None else None
    )
    res = resolve(**conn).request(
        "POST",
        f"/sandboxes/{sandbox_id}/commit",
        json=body,
        context=f"commit sandbox {sandbox_id} as template {name!r}",
    )
    created = TemplateCreated.from_api(res.json())
    if not wait:
        return Template.get_build_status(created.template_id, created.build_id, limit=1, **conn)
    return Template.wait_for_build(
        created.template_id, created.build_id, timeout_ms=timeout_ms, interval_ms=interval_ms, on_log=on_log, **conn
    )
