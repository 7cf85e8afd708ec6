"""Unit tests of the pure parts (framing, error mapping, signatures, URL handling) and of the SDK against a fake
envd on a loopback socket (tests/fake_envd.py). They need no sandbox runtime."""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlparse

import pytest
from fake_envd import FakeEnvd

import tensor_box as tb
from tensor_box.connection import api_url_from_domain
from tensor_box.envd.connect import ConnectClient, EnvelopeDecoder, encode_envelope
from tensor_box.exceptions import from_connect, from_http
from tensor_box.models import parse_time
from tensor_box.signature import file_signature

# --- pure parts -----------------------------------------------------------------------------------------------------


def test_envelope_roundtrip_across_arbitrary_chunks():
    data = encode_envelope({"a": 1}) + encode_envelope({"b": "é"}) + encode_envelope({}, flags=0x02)
    assert data[:5] == b"\x00\x00\x00\x00\x07"  # flags 0, length 7 big-endian ('{"a":1}')
    dec = EnvelopeDecoder()
    got = []
    for i in range(len(data)):  # one byte at a time: the worst split
        got.extend(dec.feed(data[i : i + 1]))
    assert [f for f, _ in got] == [0, 0, 2]
    assert got[1][1].decode() == '{"b":"\\u00e9"}'
    assert dec.pending == 0


def test_envelope_decoder_keeps_partial_message():
    dec = EnvelopeDecoder()
    whole = encode_envelope({"x": "y" * 100})
    assert dec.feed(whole[:50]) == []
    assert dec.pending == 50
    assert len(dec.feed(whole[50:])) == 1


@pytest.mark.parametrize(
    "status,kind",
    [
        (400, tb.InvalidArgumentException),
        (401, tb.AuthenticationException),
        (403, tb.PermissionDeniedException),
        (404, tb.NotFoundException),
        (409, tb.ConflictException),
        (429, tb.RateLimitException),
        (502, tb.TimeoutException),
        (507, tb.NotEnoughSpaceException),
        (500, tb.SandboxException),
    ],
)
def test_http_error_mapping(status, kind):
    err = from_http(status, {"code": status, "message": "boom"}, "ctx")
    assert type(err) is kind
    assert str(err) == "ctx: boom"
    assert err.status == status


@pytest.mark.parametrize(
    "code,kind",
    [
        ("not_found", tb.NotFoundException),
        ("invalid_argument", tb.InvalidArgumentException),
        ("unauthenticated", tb.AuthenticationException),
        ("already_exists", tb.ConflictException),
        ("resource_exhausted", tb.NotEnoughSpaceException),
        ("deadline_exceeded", tb.TimeoutException),
        ("unavailable", tb.TimeoutException),
        ("internal", tb.SandboxException),
    ],
)
def test_connect_error_mapping(code, kind):
    err = from_connect(code, "msg")
    assert type(err) is kind
    assert "msg" in str(err)


def test_every_exception_derives_from_one_base():
    for name in tb.__all__:
        obj = getattr(tb, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, tb.SandboxException), name


def test_command_exit_exception_carries_output():
    e = tb.CommandExitException(3, "out", "err")
    assert (e.exit_code, e.stdout, e.stderr) == (3, "out", "err")
    assert "code 3" in str(e)


def test_file_signature_matches_envd_format():
    # Reference values: openssl dgst -sha256 -binary | base64, with the padding stripped.
    assert (
        file_signature("/home/user/a.txt", "read", "user", "tok123") == "v1_HB2bgZ+RgifWQVkD4WDT8wNBFTVrggZWSRD5EqI0H/0"
    )
    assert (
        file_signature("/home/user/a.txt", "write", "root", "tok123", 1700000000)
        == "v1_0KSBPc1lTrcMmrxRZRpQeytcE7kk6pykK3QDq0mtU5E"
    )
    with pytest.raises(ValueError):
        file_signature("/a", "delete", "user", "t")


@pytest.mark.parametrize(
    "domain,url",
    [
        ("127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("localhost:3000/", "http://localhost:3000"),
        ("app.tos.run", "https://app.tos.run"),
        ("http://example.com/", "http://example.com"),
        ("10.1.2.3", "http://10.1.2.3"),
    ],
)
def test_api_url_from_domain(domain, url):
    assert api_url_from_domain(domain) == url


def test_parse_time_handles_nanoseconds_and_z():
    t = parse_time("2026-11-22T10:00:00.123456789Z")
    assert (t.microsecond, t.utcoffset().total_seconds()) == (123456, 0)
    assert parse_time(None) is None


def test_connection_from_env(monkeypatch):
    monkeypatch.setenv("TENSOR_BOX_DOMAIN", "box.example.com")
    monkeypatch.setenv("TENSOR_BOX_API_KEY", "e2b_env")
    c = tb.ConnectionConfig()
    assert (c.api_url, c.api_key) == ("https://box.example.com", "e2b_env")


def test_missing_api_key_raises_authentication(monkeypatch):
    monkeypatch.delenv("TENSOR_BOX_API_KEY", raising=False)
    with pytest.raises(tb.AuthenticationException):
        tb.Sandbox.kill("x", domain="http://127.0.0.1:9")


# --- against the fake envd ------------------------------------------------------------------------------------------


@pytest.fixture
def fake():
    server = FakeEnvd()
    yield server
    server.stop()


@pytest.fixture
def sandbox(fake):
    return tb.Sandbox.create(
        "default",
        domain=fake.url,
        api_key="e2b_test",
        timeout_ms=1500,
        envs={"A": "b"},
        lifecycle=tb.LifecycleConfig(on_timeout="pause", auto_resume=True),
    )


def test_create_sends_e2b_body_and_builds_envd_headers(fake, sandbox):
    create = fake.requests[0]
    assert create["headers"]["X-API-Key"] == "e2b_test"
    assert create["body"] == {
        "templateID": "default",
        "timeout": 2,
        "secure": True,
        "allow_internet_access": True,
        "autoPause": True,
        "envVars": {"A": "b"},
        "autoResume": {"enabled": True},
    }
    assert sandbox.sandbox_id == "sbxfake"
    assert sandbox.get_host(8000) == f"sbxfake-8000.{urlparse(fake.url).netloc}"
    sandbox.files.get_info("/home/user/hello.txt", user="root")
    h = fake.requests[-1]["headers"]
    assert h["E2b-Sandbox-Id"] == "sbxfake" and h["E2b-Sandbox-Port"] == "49983"
    assert h["X-Access-Token"] == "tok123"
    assert h["Authorization"] == "Basic cm9vdDo="  # base64("root:")
    assert h["Content-Type"] == "application/json"


def test_create_missing_template_is_not_found(fake):
    with pytest.raises(tb.NotFoundException, match="template missing"):
        tb.Sandbox.create("missing", domain=fake.url, api_key="e2b_test")


def test_kill_by_id_and_instance(fake, sandbox):
    assert tb.Sandbox.kill("gone", domain=fake.url, api_key="e2b_test") is False
    assert sandbox.kill() is True
    assert fake.requests[-1]["path"] == "/sandboxes/sbxfake"
    with pytest.raises(tb.AuthenticationException):
        tb.Sandbox.kill("x", domain=fake.url, api_key="e2b_wrong")


def test_list_follows_pages_and_encodes_filters(fake):
    infos = tb.Sandbox.list(
        state=["running", "paused"], metadata={"k": "v", "u": "1"}, domain=fake.url, api_key="e2b_test"
    )
    assert [i.sandbox_id for i in infos] == ["sbx1", "sbx2"]
    assert infos[0].metadata == {"k": "v"} and infos[0].end_at.microsecond == 500000
    q = parse_qs(urlparse(fake.requests[0]["path"]).query)
    assert q["state"] == ["running,paused"] and q["metadata"] == ["k=v&u=1"]


def test_foreground_command_output_and_exit(fake, sandbox):
    chunks = []
    r = sandbox.commands.run("echo hi", on_stdout=chunks.append, cwd="/tmp")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "paé\n", "err\n")
    assert "".join(chunks) == "paé\n"
    start = fake.requests[-1]
    assert start["body"]["process"] == {"cmd": "/bin/bash", "args": ["-l", "-c", "echo hi"], "envs": {}, "cwd": "/tmp"}
    assert start["headers"]["Connect-Timeout-Ms"] == "60000"
    with pytest.raises(tb.CommandExitException) as ei:
        sandbox.commands.run("exit 3")
    assert (ei.value.exit_code, ei.value.stdout) == (3, "paé\n")


def test_command_deadline_becomes_timeout(sandbox):
    t0 = time.monotonic()
    with pytest.raises(tb.TimeoutException):
        sandbox.commands.run("sleep 30", timeout_ms=300)
    assert time.monotonic() - t0 < 5


def test_refused_stream_maps_connect_error(sandbox):
    with pytest.raises(tb.AuthenticationException, match="bad token"):
        sandbox.commands.run("unauth")


def test_background_handle_kill_and_disconnect(fake, sandbox):
    h = sandbox.commands.run("sleep 30", background=True)
    assert h.pid == 42
    assert "Connect-Timeout-Ms" not in fake.requests[-1]["headers"]
    assert h.kill() is True
    assert fake.requests[-1]["body"] == {"process": {"pid": 42}, "signal": "SIGNAL_SIGKILL"}
    assert sandbox.commands.kill(999) is False
    h.send_stdin("x")
    assert fake.requests[-1]["body"]["input"] == {"stdin": "eA=="}
    h.disconnect()
    assert fake.stream_closed.wait(5), "the server never saw the stream end"
    with pytest.raises(tb.SandboxException):
        h.wait(timeout_s=5)


def test_files_read_write_and_errors(fake, sandbox):
    info = sandbox.files.write("/home/user/hello.txt", "Hello World!")
    assert info.type == "file" and info.size == 12 and info.modified_time.year == 2026
    assert fake.files["/home/user/hello.txt"] == b"Hello World!"
    assert sandbox.files.read("/home/user/hello.txt") == "Hello World!"
    assert sandbox.files.read("/home/user/hello.txt", format="bytes") == b"Hello World!"
    assert b"".join(sandbox.files.read("/home/user/hello.txt", format="stream")) == b"Hello World!"
    with pytest.raises(tb.NotFoundException):
        sandbox.files.read("/nope.txt")
    with pytest.raises(tb.NotFoundException):
        sandbox.files.get_info("/nope/x")
    assert sandbox.files.exists("/nope/x") is False
    assert sandbox.files.make_dir("/home/user") is False
    entries = sandbox.files.list("/home/user")
    assert [(e.name, e.type) for e in entries] == [("hello.txt", "file"), ("src", "dir")]
    infos = sandbox.files.write([tb.WriteEntry("/tmp/a.txt", "aaa"), tb.WriteEntry("/tmp/b.bin", b"\x00\x01")])
    assert len(infos) == 2
    multipart = next(r for r in fake.requests if r["path"].startswith("/files?") and "path=" not in r["path"])
    assert b'filename="/tmp/b.bin"' in multipart["body"] and b"\x00\x01" in multipart["body"]


def test_watch_dir_delivers_events_and_stop_unblocks(fake, sandbox):
    events, exits = [], []
    got = threading.Event()
    w = sandbox.files.watch_dir(
        "/home/user/", lambda e: (events.append(e), got.set()), recursive=True, on_exit=exits.append
    )
    assert fake.requests[-1]["body"] == {"path": "/home/user/", "recursive": True}
    assert got.wait(5)
    assert (events[0].type, events[0].name, events[0].path) == ("create", "a.txt", "/home/user/a.txt")
    t0 = time.monotonic()
    w.stop()
    # The server sends nothing more: only the socket shutdown can wake the reader this fast.
    assert time.monotonic() - t0 < 2 and not w.is_running
    assert exits == [None]
    assert fake.stream_closed.wait(5)


def test_signed_urls(fake, sandbox):
    q = parse_qs(urlparse(sandbox.download_url("/home/user/a.txt")).query)
    assert q["signature"] == [file_signature("/home/user/a.txt", "read", "user", "tok123")]
    u = urlparse(sandbox.upload_url("/x", user="root", use_signature_expiration=60))
    q = parse_qs(u.query)
    exp = int(q["signature_expiration"][0])
    assert u.path == "/sandboxes/sbxfake/files" and abs(exp - time.time() - 60) < 5
    assert q["signature"] == [file_signature("/x", "write", "root", "tok123", exp)]


def test_is_running_uses_agent_health(fake, sandbox):
    assert sandbox.is_running() is True
    assert fake.requests[-1]["headers"]["E2b-Sandbox-Id"] == "sbxfake"


def test_connect_client_unary_maps_proxy_status(fake):
    client = ConnectClient(fake.url, {})
    with pytest.raises(tb.NotEnoughSpaceException):
        client.unary("disk/full", {})


def test_dual_methods_resolve_per_access():
    assert tb.Sandbox.kill.func.__name__ == "_kill_by_id"
    assert callable(tb.Sandbox.get_info)


def test_commit_as_template_uses_commit_route_and_waits(fake, sandbox):
    seen = []
    build = sandbox.commit_as_template(
        "ubuntu-with-ffmpeg", cpu_count=2, memory_mb=2048, disk_gb=40, interval_ms=10, on_log=seen.append
    )
    assert (build.template_id, build.build_id, build.status) == ("tpl1", "b1", "ready")
    commit = [r for r in fake.requests if r["method"] == "POST"][-1]
    assert commit["path"] == "/sandboxes/sbxfake/commit"
    assert commit["body"] == {"name": "ubuntu-with-ffmpeg", "cpuCount": 2, "memoryMB": 2048, "diskSizeMB": 40 * 1024}
    assert fake.build_polls == 2
    assert [e.message for e in seen] == ["line 0", "line 1"]  # each entry once, although both polls carry logs
    polls = [r["path"] for r in fake.requests if "/status" in r["path"]]
    assert polls[0].endswith("/status") and polls[1].endswith("logsOffset=1")
    # wait=False returns once accepted; by ID works too.
    b = tb.Sandbox.commit_as_template("sbxfake", "x", wait=False, domain=fake.url, api_key="e2b_test")
    assert (b.template_id, b.build_id, b.status) == ("tpl1", "b1", "building") and fake.build_polls == 1
    assert fake.requests[-1]["path"].endswith("/status?limit=1")


def test_failed_build_raises_build_exception_with_step(fake):
    conn = {"domain": fake.url, "api_key": "e2b_test"}
    with pytest.raises(tb.BuildException) as ei:
        tb.Template.wait_for_build("tplbad", "bbad", interval_ms=10, **conn)
    e = ei.value
    assert isinstance(e, tb.SandboxException)
    assert (e.step, e.exit_code, e.template_id, e.reason.message) == (
        "broken",
        3,
        "tplbad",
        "step broken exited with 3",
    )
    assert "at step 'broken'" in str(e) and e.reason.log_entries[0].message == "boom"
    st = tb.Template.get_build_status("tplbad", "bbad", **conn)
    assert st.status == "error" and st.reason.step == "broken" and st.log_entries[0].level == "error"


def test_template_create_get_logs(fake):
    conn = {"domain": fake.url, "api_key": "e2b_test"}
    created = tb.Template.create(name="agent-runtime", cpu_count=4, memory_mb=4096, **conn)
    assert (created.template_id, created.build_id) == ("tpl1", "b1")
    assert (created["templateID"], created["buildID"]) == ("tpl1", "b1")  # the seeds' spelling
    assert fake.requests[-1]["body"] == {"name": "agent-runtime", "cpuCount": 4, "memoryMB": 4096}
    logs = tb.Template.get_build_logs("tpl1", "b1", offset=3, limit=5, **conn)
    assert [e.message for e in logs] == ["line 1"] and logs.next_offset == 4 and len(logs) == 1
    q = parse_qs(urlparse(fake.requests[-1]["path"]).query)
    assert q == {"offset": ["3"], "limit": ["5"]}
    t = tb.Template.get("tpl1", **conn)
    assert (t.template_id, t.build_status, t.memory_mb, t.envd_version) == ("tpl1", "ready", 1024, "0.2.0")
    assert t.builds[0].source == "template default" and t.builds[0].disk_size_mb == 40960


def test_template_start_build_converts_seed_steps(fake):
    conn = {"domain": fake.url, "api_key": "e2b_test"}
    tb.Template.start_build(
        "tpl1",
        "b1",
        from_template="default",
        steps=[{"name": "deps", "command": "apt-get update"}],
        start_cmd="python3 /app/server.py",
        **conn,
    )
    assert fake.requests[-1]["body"]["steps"] == [{"type": "RUN", "args": ["apt-get update"], "name": "deps"}]
    assert fake.requests[-1]["body"]["startCmd"] == "python3 /app/server.py"
    with pytest.raises(ValueError):
        tb.Template.start_build("tpl1", "b1", from_template="default", from_image="ubuntu:24.04", **conn)
    snaps = tb.Snapshot.list(sandbox_id="sbxfake", **conn)
    assert [(s.snapshot_id, s.name, s.sandbox_id) for s in snaps] == [("snap-1:default", "n1", "sbxfake")]
    assert "sandboxID=sbxfake" in fake.requests[-1]["path"]
    with pytest.raises(tb.NotFoundException):
        tb.Template.list_base_images(**conn)
