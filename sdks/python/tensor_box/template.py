"""``Template``: list base images and templates, build custom templates (create → start_build → poll), delete them,
and ``commit_sandbox`` (behind ``sandbox.commit_as_template``). Paths follow E2B's build API v2/v3
(``POST /v3/templates``, ``POST /v2/templates/{id}/builds/{build}``, ``GET …/status``, ``GET …/logs``); base images
are a Tensor Box addition at ``GET /templates/base-images``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .connection import resolve
from .exceptions import SandboxException, TimeoutException
from .models import TemplateInfo


@dataclass
class TemplateBuild:
    """The state of one template build: ``status`` is building, waiting, ready or error."""

    template_id: str
    build_id: str
    status: str
    logs: List[str] = field(default_factory=list)
    reason: Optional[str] = None

    @classmethod
    def from_api(cls, d: Dict[str, Any], template_id: str = "", build_id: str = "") -> "TemplateBuild":
        reason = d.get("reason")
        if isinstance(reason, dict):
            reason = reason.get("message")
        logs = d.get("logs") or [e.get("message", "") for e in d.get("logEntries") or []]
        return cls(d.get("templateID", template_id), d.get("buildID", build_id), d.get("status", ""), list(logs), reason)


def _steps(steps: Optional[List[Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """The seeds' ``{"name", "command"}`` steps as E2B RUN steps; steps that already have a ``type`` pass as they are."""
    out = []
    for s in steps or []:
        if "type" in s:
            out.append(s)
        else:
            step: Dict[str, Any] = {"type": "RUN", "args": [s["command"]]}
            if s.get("name"):
                step["name"] = s["name"]
            out.append(step)
    return out


class Template:
    """Template calls; every one takes the connection options (``domain``, ``api_key``, …) as keywords."""

    @staticmethod
    def list_base_images(**conn: Any) -> List[Dict[str, Any]]:
        """Base images templates can start from: ``[{dockerImage, osVersion, codename, status, …}]``."""
        return resolve(**conn).request("GET", "/templates/base-images", context="list base images").json()

    @staticmethod
    def list(**conn: Any) -> List[TemplateInfo]:
        """Templates visible to the key."""
        res = resolve(**conn).request("GET", "/templates", context="list templates")
        return [TemplateInfo.from_api(t) for t in res.json()]

    @staticmethod
    def get(template_id: str, **conn: Any) -> Dict[str, Any]:
        """One template with its builds (E2B's ``TemplateWithBuilds``)."""
        return resolve(**conn).request("GET", f"/templates/{template_id}", context=f"template {template_id}").json()

    @staticmethod
    def delete(template_id: str, **conn: Any) -> None:
        resolve(**conn).request("DELETE", f"/templates/{template_id}", context=f"delete template {template_id}")

    @staticmethod
    def create(
        name: str,
        cpu_count: Optional[int] = None,
        memory_mb: Optional[int] = None,
        disk_gb: Optional[int] = None,
        tags: Optional[List[str]] = None,
        **conn: Any,
    ) -> Dict[str, Any]:
        """Registers a template and its first build: returns ``{"templateID", "buildID", …}``; then call
        :meth:`start_build`."""
        body: Dict[str, Any] = {"name": name}
        for key, value in (("cpuCount", cpu_count), ("memoryMB", memory_mb), ("tags", tags)):
            if value is not None:
                body[key] = value
        if disk_gb is not None:
            body["diskSizeMB"] = disk_gb * 1024
        return resolve(**conn).request("POST", "/v3/templates", json=body, context=f"create template {name!r}").json()

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
        **conn: Any,
    ) -> None:
        """Starts a build from exactly one source: ``from_template``, ``from_image`` or ``dockerfile``, then
        ``steps`` (``[{"name", "command"}]``)."""
        sources = [s for s in (from_template, from_image, dockerfile) if s]
        if len(sources) != 1:
            raise ValueError("give exactly one of from_template, from_image, dockerfile")
        body: Dict[str, Any] = {"steps": _steps(steps), "force": force}
        for key, value in (
            ("fromTemplate", from_template),
            ("fromImage", from_image),
            ("dockerfile", dockerfile),
            ("startCmd", start_cmd),
            ("readyCmd", ready_cmd),
        ):
            if value:
                body[key] = value
        resolve(**conn).request(
            "POST", f"/v2/templates/{template_id}/builds/{build_id}", json=body, context=f"start build {build_id} of {template_id}"
        )

    @staticmethod
    def get_build_status(template_id: str, build_id: str, logs_offset: int = 0, **conn: Any) -> TemplateBuild:
        res = resolve(**conn).request(
            "GET",
            f"/templates/{template_id}/builds/{build_id}/status",
            params={"logsOffset": logs_offset},
            context=f"status of build {build_id}",
        )
        return TemplateBuild.from_api(res.json(), template_id, build_id)

    @staticmethod
    def get_build_logs(template_id: str, build_id: str, **conn: Any) -> List[Dict[str, Any]]:
        """Log entries of a build: ``[{timestamp, level, message, step?}]``."""
        res = resolve(**conn).request("GET", f"/templates/{template_id}/builds/{build_id}/logs", context=f"logs of build {build_id}")
        data = res.json()
        return data.get("logs", []) if isinstance(data, dict) else data

    @staticmethod
    def wait_for_build(
        template_id: str, build_id: str, timeout_s: float = 1800, poll_interval_s: float = 2.0, **conn: Any
    ) -> TemplateBuild:
        """Polls until the build is ``ready``; raises SandboxException when it fails, TimeoutException past
        ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            b = Template.get_build_status(template_id, build_id, **conn)
            if b.status == "ready":
                return b
            if b.status == "error":
                raise SandboxException(f"build {build_id} of template {template_id} failed: {b.reason or 'see its logs'}")
            if time.monotonic() > deadline:
                raise TimeoutException(f"build {build_id} of template {template_id} not ready after {timeout_s} s")
            time.sleep(poll_interval_s)


def commit_sandbox(
    sandbox: Any,
    name: str,
    cpu_count: Optional[int] = None,
    memory_mb: Optional[int] = None,
    disk_gb: Optional[int] = None,
    wait: bool = True,
    timeout_s: float = 1800,
    poll_interval_s: float = 2.0,
) -> TemplateBuild:
    """Snapshots ``sandbox`` (it keeps running) and builds template ``name`` from that snapshot; with ``wait``
    (default) returns once the build is ready. The result's ``template_id`` creates sandboxes from it."""
    conn = sandbox.connection_config.kwargs()
    snap = sandbox.create_snapshot(f"{name}-source")
    created = Template.create(name, cpu_count=cpu_count, memory_mb=memory_mb, disk_gb=disk_gb, **conn)
    template_id, build_id = created["templateID"], created["buildID"]
    Template.start_build(template_id, build_id, from_template=snap.snapshot_id, **conn)
    if wait:
        return Template.wait_for_build(template_id, build_id, timeout_s=timeout_s, poll_interval_s=poll_interval_s, **conn)
    return TemplateBuild(template_id, build_id, "building")
