"""Conformance runner for the Python SDK: executes every scenario in conformance/scenarios/*.yaml (format in
conformance/README.md) against a live server. Unknown ops fail the scenario; results are compared under the TS
(camelCase) field names the scenarios use."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import Any, Dict, List

import httpx
import pytest
import yaml

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


class Run:
    """One scenario's state: its sandbox and saved command handles."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sbx: Any = None
        self.handles: Dict[str, tb.CommandHandle] = {}

    def subst(self, v: Any) -> Any:
        if isinstance(v, str):
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
            sbx = tb.Sandbox.create(a.get("template", "default"), timeout_ms=a.get("timeoutMs"), envs=a.get("envs"),
                                    metadata=a.get("metadata"), lifecycle=lifecycle)
            self.sbx = self.sbx or sbx
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
            return tb.Sandbox.list(state=a.get("state"), metadata=a.get("metadata"))
        if op == "sandbox.pause":
            return self.s().pause()
        if op == "sandbox.resume":
            return self.s().resume(a.get("timeoutMs"))
        if op == "sandbox.getHost":
            return self.s().get_host(a["port"])
        if op == "commands.run":
            return self.s().commands.run(a["cmd"], envs=a.get("envs"), cwd=a.get("cwd"), user=a.get("user"), timeout_ms=a.get("timeoutMs"))
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
                assert isinstance(ei.value, kind), f"{where}: expected {step['expectError']}, got {type(ei.value).__name__}: {ei.value}"
                if step.get("expect"):
                    check(ei.value, step["expect"], where)
            else:
                result = run.exec(step)
                if step.get("expect"):
                    check(result, step["expect"], where)
    finally:
        if run.sbx:
            try:
                tb.Sandbox.kill(run.sbx.sandbox_id)
            except tb.SandboxException:
                pass
