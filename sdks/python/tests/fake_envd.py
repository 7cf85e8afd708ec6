"""A fake envd + control plane on a real loopback socket, for unit tests of the SDK's wire handling (framing,
errors, streams, stopping a blocked reader) without a sandbox runtime. It speaks just enough Connect JSON."""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List
from urllib.parse import parse_qs, urlparse


def envelope(msg: Any, flags: int = 0) -> bytes:
    payload = json.dumps(msg).encode()
    return struct.pack(">BI", flags, len(payload)) + payload


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


ENTRY = {
    "name": "hello.txt",
    "type": "FILE_TYPE_FILE",
    "path": "/home/user/hello.txt",
    "size": "12",
    "mode": 420,
    "permissions": "-rw-r--r--",
    "owner": "user",
    "group": "user",
    "modifiedTime": "2026-11-22T10:00:00.123456789Z",
}


class FakeEnvd(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: List[Dict[str, Any]] = []
        self.files: Dict[str, bytes] = {}
        self.stream_closed = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeEnvd

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body: Any) -> None:
        self.server.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )

    def do_GET(self) -> None:
        self._record(None)
        if self.path.split("?")[0] == "/files":
            q = parse_qs(urlparse(self.path).query)
            data = self.server.files.get(q["path"][0])
            if data is None:
                return self._json(404, {"code": 404, "message": "file not found"})
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if self.path.startswith("/templates/tpl1/builds/b1/status"):
            # Two log lines, one per poll; ready on the second poll. The answer holds the lines from logsOffset on.
            self.server.build_polls += 1  # type: ignore[attr-defined]
            polls = self.server.build_polls  # type: ignore[attr-defined]
            offset = int(parse_qs(urlparse(self.path).query).get("logsOffset", ["0"])[0])
            entries = [
                {"timestamp": "2026-01-01T00:00:0%dZ" % i, "level": "info", "message": f"line {i}", "step": "s"}
                for i in range(min(polls, 2))
            ]
            entries = entries[offset:]
            return self._json(
                200,
                {
                    "templateID": "tpl1",
                    "buildID": "b1",
                    "status": "ready" if polls >= 2 else "building",
                    "logs": [e["message"] for e in entries],
                    "logEntries": entries,
                },
            )
        if self.path.startswith("/templates/tplbad/builds/bbad/status"):
            entry = {"timestamp": "2026-01-01T00:00:00Z", "level": "error", "message": "boom", "step": "broken"}
            return self._json(
                200,
                {
                    "templateID": "tplbad",
                    "buildID": "bbad",
                    "status": "error",
                    "logs": ["boom"],
                    "logEntries": [entry],
                    "reason": {
                        "message": "step broken exited with 3",
                        "step": "broken",
                        "exitCode": 3,
                        "logEntries": [entry],
                    },
                },
            )
        if self.path.startswith("/templates/tpl1/builds/b1/logs"):
            q = parse_qs(urlparse(self.path).query)
            return self._json(
                200,
                {
                    "logs": [{"timestamp": "2026-01-01T00:00:01Z", "level": "info", "message": "line 1"}],
                    "nextOffset": int(q.get("offset", ["0"])[0]) + 1,
                },
            )
        if self.path == "/templates/tpl1":
            return self._json(
                200,
                {
                    "templateID": "tpl1",
                    "public": False,
                    "names": ["agent-runtime"],
                    "aliases": ["agent-runtime"],
                    "createdAt": "2026-01-01T00:00:00Z",
                    "updatedAt": "2026-01-01T00:00:00Z",
                    "spawnCount": 0,
                    "buildCount": 1,
                    "buildStatus": "ready",
                    "buildID": "b1",
                    "cpuCount": 2,
                    "memoryMB": 1024,
                    "builds": [
                        {
                            "buildID": "b1",
                            "status": "ready",
                            "createdAt": "2026-01-01T00:00:00Z",
                            "updatedAt": "2026-01-01T00:00:00Z",
                            "cpuCount": 2,
                            "memoryMB": 1024,
                            "diskSizeMB": 40960,
                            "envdVersion": "0.2.0",
                            "source": "template default",
                        }
                    ],
                },
            )
        if self.path.startswith("/snapshots"):
            return self._json(200, [{"snapshotID": "snap-1:default", "names": ["n1"]}])
        if self.path == "/health":
            self.send_response(204)
            self.end_headers()
            return
        if self.path.startswith("/v2/sandboxes?") or self.path == "/v2/sandboxes":
            page2 = "nextToken=p2" in self.path
            item = {
                "sandboxID": "sbx2" if page2 else "sbx1",
                "templateID": "default",
                "state": "running",
                "cpuCount": 2,
                "memoryMB": 2048,
                "diskSizeMB": 1,
                "envdVersion": "0.1",
                "startedAt": "2026-11-22T10:00:00Z",
                "endAt": "2026-11-22T10:05:00.5Z",
                "metadata": {"k": "v"},
                "clientID": "x",
            }
            data = json.dumps([item]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if not page2:
                self.send_header("X-Next-Token", "p2")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self._json(404, {"code": 404, "message": f"no route {self.path}"})

    def do_DELETE(self) -> None:
        self._record(None)
        if self.headers.get("X-API-Key") != "e2b_test":
            return self._json(401, {"code": 401, "message": "bad key"})
        if self.path.endswith("/gone"):
            return self._json(404, {"code": 404, "message": "sandbox gone not found"})
        self.send_response(204)
        self.end_headers()

    def do_POST(self) -> None:
        raw = self._body()
        ctype = self.headers.get("Content-Type", "")
        if self.path.split("?")[0] == "/files":
            self._record(raw)
            q = parse_qs(urlparse(self.path).query)
            if ctype.startswith("application/octet-stream"):
                self.server.files[q["path"][0]] = raw
            return self._json(200, [{"path": q.get("path", [""])[0], "name": "x", "type": "file"}])
        if ctype == "application/connect+json":
            flags, n = struct.unpack(">BI", raw[:5])
            req = json.loads(raw[5 : 5 + n])
            self._record(req)
            return self._stream(req)
        req = json.loads(raw) if raw else {}
        self._record(req)
        return self._unary(req)

    def _unary(self, req: Dict[str, Any]) -> None:
        p = self.path
        if p == "/sandboxes":
            if req.get("templateID") == "missing":
                return self._json(404, {"code": 404, "message": "template missing not found"})
            return self._json(
                201,
                {
                    "sandboxID": "sbxfake",
                    "templateID": req["templateID"],
                    "clientID": "x",
                    "envdVersion": "0.1",
                    "envdAccessToken": "tok123",
                    "domain": None,
                },
            )
        if p.startswith("/sandboxes/") and p.endswith("/snapshots"):
            return self._json(201, {"snapshotID": "snap-1:default", "names": [req.get("name", "")]})
        if p == "/sandboxes/sbxfake/commit":
            self.server.build_polls = 0  # type: ignore[attr-defined]
            return self._json(
                202,
                {
                    "templateID": "tpl1",
                    "buildID": "b1",
                    "public": False,
                    "names": [req["name"]],
                    "aliases": [],
                    "tags": [],
                },
            )
        if p == "/v3/templates":
            return self._json(202, {"templateID": "tpl1", "buildID": "b1", "public": False, "names": [req["name"]]})
        if p == "/v2/templates/tpl1/builds/b1":
            self.server.build_polls = 0  # type: ignore[attr-defined]
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if p == "/filesystem.Filesystem/Stat":
            if req["path"].startswith("/nope"):
                return self._json(404, {"code": "not_found", "message": f"{req['path']}: no such file"})
            return self._json(200, {"entry": {**ENTRY, "path": req["path"]}})
        if p == "/filesystem.Filesystem/MakeDir":
            return self._json(409, {"code": "already_exists", "message": "exists"})
        if p == "/filesystem.Filesystem/ListDir":
            return self._json(200, {"entries": [ENTRY, {**ENTRY, "name": "src", "type": "FILE_TYPE_DIRECTORY"}]})
        if p == "/process.Process/SendSignal":
            if req["process"]["pid"] == 999:
                return self._json(404, {"code": "not_found", "message": "no process"})
            return self._json(200, {})
        if p == "/process.Process/SendInput":
            return self._json(200, {})
        if p == "/disk/full":
            return self._json(507, {"code": 507, "message": "no space"})
        self._json(404, {"code": "unimplemented", "message": p})

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/connect+json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _send(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _finish(self, trailer: Dict[str, Any]) -> None:
        self._send(envelope(trailer, 0x02))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _stream(self, req: Dict[str, Any]) -> None:
        if self.path == "/process.Process/Start":
            cmd = req["process"]["args"][-1] if req["process"].get("args") else ""
            if cmd == "unauth":
                return self._json(401, {"code": "unauthenticated", "message": "bad token"})
            self._start_stream()
            self._send(envelope({"event": {"start": {"pid": 42}}}))
            if cmd.startswith("sleep"):
                deadline_ms = int(self.headers.get("Connect-Timeout-Ms") or 0)
                end = time.time() + (deadline_ms / 1000 if deadline_ms else 30)
                try:
                    while time.time() < end:
                        self._send(envelope({"event": {"keepalive": {}}}))
                        time.sleep(0.05)
                except OSError:
                    self.server.stream_closed.set()
                    return
                return self._finish({"error": {"code": "deadline_exceeded", "message": "context deadline exceeded"}})
            # Split one UTF-8 character across two messages to test incremental decoding.
            self._send(
                envelope({"event": {"data": {"stdout": base64.b64encode("pa".encode() + "é".encode()[:1]).decode()}}})
            )
            self._send(envelope({"event": {"data": {"stdout": base64.b64encode("é".encode()[1:] + b"\n").decode()}}}))
            self._send(envelope({"event": {"data": {"stderr": b64("err\n")}}}))
            code = 3 if "exit 3" in cmd else 0
            self._send(
                envelope({"event": {"end": {"exitCode": code, "exited": True, "status": f"exit status {code}"}}})
            )
            return self._finish({})
        if self.path == "/filesystem.Filesystem/WatchDir":
            self._start_stream()
            self._send(envelope({"start": {}}))
            self._send(envelope({"filesystem": {"name": "a.txt", "type": "EVENT_TYPE_CREATE"}}))
            # Then nothing (no keepalives): only a socket shutdown by the client can end this.
            try:
                while True:
                    time.sleep(0.1)
                    self.wfile.write(b"")
                    self.wfile.flush()
                    if self.rfile.peek(1) == b"":  # type: ignore[attr-defined]
                        break
            except (OSError, ValueError):
                pass
            self.server.stream_closed.set()
            return
        self._json(404, {"code": "unimplemented", "message": self.path})
