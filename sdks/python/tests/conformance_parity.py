"""The Python conformance runner's operations for the SDK surface of issue 16 (conformance/README.md): fork,
snapshots, list pages, signed file URLs, terminals re-attached by pid, and the fluent template builder."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from typing import Any, Dict, Optional

import httpx

import tensor_box as tb

NOT_PARITY = object()


class Terminal:
    """A saved terminal handle and everything it has printed."""

    def __init__(self) -> None:
        self.pty: Optional[tb.PtyHandle] = None
        self.output = ""
        self._lock = threading.Lock()

    def on_data(self, b: bytes) -> None:
        with self._lock:
            self.output += b.decode(errors="replace")


def _ready_cmd(r: Any) -> Optional[str]:
    if r is None or isinstance(r, str):
        return r
    if "waitForPort" in r:
        return tb.wait_for_port(r["waitForPort"])
    if "waitForFile" in r:
        return tb.wait_for_file(r["waitForFile"])
    if "waitForURL" in r:
        return tb.wait_for_url(r["waitForURL"], r.get("statusCode", 200))
    raise AssertionError(f"unknown readyCmd {r!r}")


def _definition(a: Dict[str, Any]) -> tb.Template:
    ctx = tempfile.mkdtemp(prefix="tb-conf-ctx-")
    for rel, data in (a.get("files") or {}).items():
        os.makedirs(os.path.dirname(os.path.join(ctx, rel)), exist_ok=True)
        with open(os.path.join(ctx, rel), "w") as f:
            f.write(data)
    t = tb.Template(file_context_path=ctx)
    if a.get("fromTemplate"):
        t.from_template(a["fromTemplate"])
    if a.get("fromImage"):
        t.from_image(a["fromImage"])
    for step in a.get("steps") or []:
        ((kind, v),) = step.items()
        if kind == "copy":
            t.copy(v["src"], v["dest"], user=v.get("user"), mode=v.get("mode"))
        elif kind in ("runCmd", "setEnvs", "setWorkdir", "setUser", "aptInstall", "pipInstall"):
            getattr(
                t,
                {
                    "runCmd": "run_cmd",
                    "setEnvs": "set_envs",
                    "setWorkdir": "set_workdir",
                    "setUser": "set_user",
                    "aptInstall": "apt_install",
                    "pipInstall": "pip_install",
                }[kind],
            )(v)
        else:
            raise AssertionError(f"unknown template step {kind!r}")
    if a.get("startCmd"):
        t.set_start_cmd(a["startCmd"], _ready_cmd(a.get("readyCmd")))
    return t


def parity_op(run: Any, op: str, a: Dict[str, Any]) -> Any:
    """Runs a parity op; ``NOT_PARITY`` when ``op`` is not one of them."""
    if op == "sandbox.listPage":
        p = tb.Sandbox.paginate(
            state=a.get("state"),
            metadata=a.get("metadata"),
            template=a.get("template"),
            order=a.get("order"),
            limit=a.get("limit"),
        )
        items = p.next_items()
        return {"count": len(items), "hasNext": p.has_next}
    if op == "sandbox.fork":
        copies = run.s().fork(count=a.get("count"))
        run.created.extend(c.sandbox_id for c in copies)
        if a.get("use") and copies:
            run.sbx = copies[0]
        return [{"sandboxId": c.sandbox_id} for c in copies]
    if op == "snapshot.create":
        s = run.s().create_snapshot(a.get("name"))
        return {"snapshotId": s.snapshot_id, "name": s.name}
    if op == "snapshot.list":
        return [
            {"snapshotId": s.snapshot_id, "name": s.name}
            for s in tb.Snapshot.list(sandbox_id=a.get("sandboxId"), name=a.get("name"))
        ]
    if op == "snapshot.delete":
        return tb.Snapshot.delete(a["snapshot"])
    if op == "files.downloadUrl":
        r = httpx.get(run.s().download_url(a["path"], user=a.get("user")), timeout=30)
        return {"status": r.status_code, "body": r.text}
    if op == "files.uploadUrl":
        r = httpx.post(
            run.s().upload_url(a["path"], user=a.get("user")),
            content=a["data"].encode(),
            headers={"content-type": "application/octet-stream"},
            timeout=30,
        )
        return {"status": r.status_code}
    if op == "template.build":
        info = tb.Template.build(
            _definition(a), alias=a["alias"], cpu_count=a.get("cpuCount"), memory_mb=a.get("memoryMB")
        )
        run.builds[a.get("save") or a["alias"]] = tb.TemplateCreated(info.template_id, info.build_id)
        return {"templateID": info.template_id, "buildID": info.build_id, "status": info.status}
    if not op.startswith("pty."):
        return NOT_PARITY
    if op == "pty.create":
        term = Terminal()
        term.pty = run.s().pty.create(cols=80, rows=24, on_data=term.on_data, cmd=a.get("cmd"))
        run.ptys[a["save"]] = term
        return {"pid": term.pty.pid}
    if op == "pty.connect":
        pid = a["pid"] if "pid" in a else run.ptys[a["handle"]].pty.pid
        term = Terminal()
        term.pty = run.s().pty.connect(pid, on_data=term.on_data)
        run.ptys[a.get("handle") or str(pid)] = term
        return {"pid": term.pty.pid}
    term = run.ptys[a["handle"]]
    if op == "pty.sendInput":
        return term.pty.send_input(a["data"])
    if op == "pty.disconnect":
        return term.pty.disconnect()
    if op == "pty.kill":
        return term.pty.kill()
    if op == "pty.waitOutput":
        deadline = time.monotonic() + a.get("timeoutMs", 10_000) / 1000
        while a["contains"] not in term.output:
            if time.monotonic() > deadline:
                raise tb.TimeoutException(f"{a['contains']!r} not in the terminal's output: {term.output!r}")
            time.sleep(0.1)
        return True
    raise AssertionError(f"unknown op {op!r}")
