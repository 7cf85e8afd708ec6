"""Conformance runner for the Python SDK: executes every scenario in conformance/scenarios/*.yaml (format in
conformance/README.md) against a live server. Unknown ops fail the scenario; results are compared under the TS
(camelCase) field names the scenarios use."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import httpx
import pytest
import yaml
from conformance_parity import NOT_PARITY, parity_op

import tensor_box as tb

pytestmark = pytest.mark.integration

SCENARIO_DIR = Path(__file__).resolve().parents[3] / "conformance" / "scenarios"
SCENARIOS = [yaml.safe_load(p.read_text()) for p in sorted(SCENARIO_DIR.glob("*.yaml"))]

ERROR_KINDS = {
    "NotFound": tb.NotFoundException,
    "InvalidArgument": tb.InvalidArgumentException,
    "Authentication": tb.AuthenticationException,
    "Timeout": tb.TimeoutException,
    "CommandExit": tb.CommandExitException,
    "Conflict": tb.ConflictException,
    "NotEnoughSpace": tb.NotEnoughSpaceException,
    "Build": tb.BuildException,
}


def camel(name: str) -> str:
    """snake_case → the TS name: memory_mb → memoryMB, sandbox_id → sandboxId."""
    special = {"memory_mb": "memoryMB", "disk_size_mb": "diskSizeMB"}
    if name in special:
        return special[name]
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


def plain(value: Any) -> Any:
    """SDK results (dataclasses, exceptions) as dicts with TS field names; scalars and lists as they are."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {camel(f.name): getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, tb.CommandExitException):
        return {"exitCode": value.exit_code, "stdout": value.stdout, "stderr": value.stderr}
    if isinstance(value, tb.BuildException):
        return {
            "step": value.step,
            "exitCode": value.exit_code,
            "message": value.reason.message if value.reason else "",
        }
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def check(result: Any, expect: Dict[str, Any], where: str) -> None:
    r = plain(result)
    for key, want in expect.items():
        if isinstance(r, list) and key == "length":
            assert len(r) == want, f"{where}: length {len(r)} != {want}: {r}"
        elif isinstance(r, list) and key == "contains":
            for w in want:
                assert any(all(item.get(k) == v for k, v in w.items()) for item in r), f"{where}: contains {w} in {r}"
        elif key == "value":
            assert r == want, f"{where}: value {r!r} != {want!r}"
        else:
            got = r.get(key) if isinstance(r, dict) else getattr(r, key, None)
            assert got == want, f"{where}: {key} {got!r} != {want!r}"


def build_result(b: tb.TemplateBuild) -> Dict[str, Any]:
    """A build's status under the suite's names (the TS SDK's: templateID, buildID; the reason's step and exitCode
    flattened)."""
    r = b.reason
    return {
        "templateID": b.template_id,
        "buildID": b.build_id,
        "status": b.status,
        "step": r.step if r else None,
        "exitCode": r.exit_code if r else None,
    }


def template_result(t: tb.TemplateInfo) -> Dict[str, Any]:
    return {
        "templateID": t.template_id,
        "buildID": t.build_id,
        "buildStatus": t.build_status,
        "cpuCount": t.cpu_count,
        "memoryMB": t.memory_mb,
        "names": t.names,
        "builds": len(t.builds),
    }


class Run:
    """One scenario's state: its sandbox, every sandbox it created, saved command handles and template builds."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sbx: Any = None
        self.created: List[str] = []
        self.handles: Dict[str, tb.CommandHandle] = {}
        self.builds: Dict[str, tb.TemplateCreated] = {}
        self.ptys: Dict[str, Any] = {}
        self.run_id = uuid.uuid4().hex[:10]

    def cleanup(self) -> None:
        """Kills every sandbox the scenario created, then deletes the templates it made (newest first)."""
        for term in self.ptys.values():
            term.pty.disconnect()
        for sandbox_id in self.created:
            try:
                tb.Sandbox.kill(sandbox_id)
            except tb.SandboxException:
                pass
        for b in reversed(list(self.builds.values())):
            try:
                tb.Template.delete(b.template_id)
            except tb.SandboxException:
                pass

    def subst(self, v: Any) -> Any:
        if isinstance(v, str):
            v = v.replace("${runId}", self.run_id)
            v = v.replace("${sandboxId}", self.sbx.sandbox_id if self.sbx else "")
            return re.sub(r"\$\{host:(\d+)\}", lambda m: self.sbx.get_host(int(m.group(1))), v)
        if isinstance(v, list):
            return [self.subst(x) for x in v]
        if isinstance(v, dict):
            return {k: self.subst(x) for k, x in v.items()}
        return v

    def s(self) -> tb.Sandbox:
        if not self.sbx:
            raise AssertionError("no sandbox created yet in this scenario")
        return self.sbx

    def exec(self, step: Dict[str, Any]) -> Any:
        a = self.subst(step.get("args") or {})
        op = step["op"]
        if op == "sandbox.create":
            lc = a.get("lifecycle")
            lifecycle = tb.LifecycleConfig(lc.get("onTimeout", "kill"), lc.get("autoResume")) if lc else None
            sbx = tb.Sandbox.create(
                a.get("template", "default"),
                timeout_ms=a.get("timeoutMs"),
                envs=a.get("envs"),
                metadata=a.get("metadata"),
                lifecycle=lifecycle,
            )
            self.created.append(sbx.sandbox_id)
            if not self.sbx or a.get("use"):
                self.sbx = sbx
            return {"sandboxId": sbx.sandbox_id, "templateId": sbx.template_id}
        if op == "sandbox.connect":
            tb.Sandbox.connect(a.get("sandboxId") or self.s().sandbox_id)
            return None
        if op == "sandbox.kill":
            tb.Sandbox.kill(a.get("sandboxId") or self.s().sandbox_id)
            return None
        if op == "sandbox.killById":
            return tb.Sandbox.kill(a["sandboxId"])
        if op == "sandbox.getInfo":
            return self.s().get_info()
        if op == "sandbox.isRunning":
            return self.s().is_running()
        if op == "sandbox.setTimeout":
            return self.s().set_timeout(a["timeoutMs"])
        if op == "sandbox.keepAlive":
            return self.s().keep_alive(a["timeoutMs"])
        if op == "sandbox.list":
            return tb.Sandbox.list(
                state=a.get("state"),
                metadata=a.get("metadata"),
                template=a.get("template"),
                order=a.get("order"),
                limit=a.get("limit"),
            )
        if op == "sandbox.pause":
            return self.s().pause(keep_memory=a.get("keepMemory"))
        if op == "sandbox.resume":
            return self.s().resume(a.get("timeoutMs"))
        if op == "sandbox.getHost":
            return self.s().get_host(a["port"])
        if op == "commands.run":
            return self.s().commands.run(
                a["cmd"], envs=a.get("envs"), cwd=a.get("cwd"), user=a.get("user"), timeout_ms=a.get("timeoutMs")
            )
        if op == "commands.runBackground":
            h = self.s().commands.run(a["cmd"], background=True)
            if a.get("save"):
                self.handles[a["save"]] = h
            return {"pid": h.pid}
        if op == "commands.kill":
            return self.handles[a["handle"]].kill()
        if op == "commands.wait":
            return self.handles[a["handle"]].wait()
        if op == "files.write":
            if "files" in a:
                return self.s().files.write([tb.WriteEntry(f["path"], f["data"]) for f in a["files"]])
            return self.s().files.write(a["path"], a["data"])
        if op == "files.read":
            if a.get("format") == "bytes":
                return self.s().files.read(a["path"], format="bytes").decode()
            return self.s().files.read(a["path"])
        if op == "files.list":
            return self.s().files.list(a["path"])
        if op == "files.makeDir":
            return self.s().files.make_dir(a["path"])
        if op == "files.exists":
            return self.s().files.exists(a["path"])
        if op == "files.rename":
            return self.s().files.rename(a["from"], a["to"])
        if op == "files.remove":
            return self.s().files.remove(a["path"])
        if op == "files.getInfo":
            return self.s().files.get_info(a["path"])
        if op == "http.get":
            return self.http_get(a, step.get("expect"))
        parity = parity_op(self, op, a)
        if parity is not NOT_PARITY:
            return parity
        if op.startswith("template.") or op == "sandbox.commitAsTemplate":
            return self.template_op(op, a)
        raise AssertionError(f"unknown op {op!r}")

    def template_op(self, op: str, a: Dict[str, Any]) -> Any:
        if op == "template.listBaseImages":
            return tb.Template.list_base_images()
        if op == "template.create":
            created = tb.Template.create(
                a["name"], cpu_count=a.get("cpuCount"), memory_mb=a.get("memoryMB"), disk_gb=a.get("diskGB")
            )
            self.builds[a.get("save") or a["name"]] = created
            return {"templateID": created.template_id, "buildID": created.build_id, "names": created.names}
        if op == "sandbox.commitAsTemplate":
            b = self.s().commit_as_template(
                a["name"], cpu_count=a.get("cpuCount"), memory_mb=a.get("memoryMB"), wait=a.get("wait", True)
            )
            self.builds[a.get("save") or a["name"]] = tb.TemplateCreated(b.template_id, b.build_id)
            return build_result(b)
        if op == "template.list":
            name = a.get("name")
            return [
                template_result(t)
                for t in tb.Template.list()
                if not name or any(n == name or n.startswith(name + ":") for n in t.names + t.aliases)
            ]
        if op == "template.get":
            return template_result(tb.Template.get(a["template"]))
        if op == "template.exists":
            return tb.Template.exists(a["name"])
        if op == "template.delete":
            return tb.Template.delete(a["template"])
        b = self.builds[a["build"]]
        if op == "template.startBuild":
            return tb.Template.start_build(
                b.template_id,
                b.build_id,
                from_template=a.get("fromTemplate"),
                from_image=a.get("fromImage"),
                steps=a.get("steps"),
                start_cmd=a.get("startCmd"),
                ready_cmd=a.get("readyCmd"),
            )
        if op == "template.waitForBuild":
            return build_result(tb.Template.wait_for_build(b.template_id, b.build_id, interval_ms=200))
        if op == "template.getBuildStatus":
            return build_result(tb.Template.get_build_status(b.template_id, b.build_id))
        if op == "template.getBuildLogs":
            return [
                {"level": e.level, "message": e.message, "step": e.step}
                for e in tb.Template.get_build_logs(b.template_id, b.build_id)
            ]
        raise AssertionError(f"unknown op {op!r}")

    def http_get(self, a: Dict[str, Any], expect: Any) -> Dict[str, Any]:
        deadline = time.monotonic() + 10
        while True:
            try:
                r = httpx.get(f"{self.url}{a['path']}", headers={"Host": a["host"]}, timeout=5)
                last = {"status": r.status_code, "body": r.text}
            except httpx.HTTPError as e:
                last = {"status": 0, "body": str(e)}
            if not expect or all(last.get(k) == v for k, v in expect.items()) or time.monotonic() > deadline:
                return last
            time.sleep(0.2)


def test_scenarios_exist():
    assert SCENARIOS, f"no scenarios in {SCENARIO_DIR}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario(server, scenario):
    run = Run(server["url"])
    try:
        for i, step in enumerate(scenario["steps"], 1):
            where = f"{scenario['name']} step {i} ({step['op']})"
            if "expectError" in step:
                kind = ERROR_KINDS[step["expectError"]]
                with pytest.raises(tb.SandboxException) as ei:
                    run.exec(step)
                assert isinstance(ei.value, kind), (
                    f"{where}: expected {step['expectError']}, got {type(ei.value).__name__}: {ei.value}"
                )
                if step.get("expect"):
                    check(ei.value, step["expect"], where)
            else:
                result = run.exec(step)
                if step.get("expect"):
                    check(result, step["expect"], where)
    finally:
        run.cleanup()
