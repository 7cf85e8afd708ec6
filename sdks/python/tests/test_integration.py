"""Integration tests against a live server with real sandboxes (see conftest.server): lifecycle, commands, files,
watches, ports, signed URLs and terminals."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx
import pytest

import tensor_box as tb

pytestmark = pytest.mark.integration


def wait_for(pred, timeout_s=10.0, interval_s=0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval_s)
    return pred()


# --- lifecycle ------------------------------------------------------------------------------------------------------


def test_lifecycle_create_info_list_timeouts_kill(server):
    sbx = tb.Sandbox.create("default", timeout_ms=60_000, envs={"API_TOKEN": "xxx"}, metadata={"suite": "py-lifecycle"})
    try:
        info = sbx.get_info()
        assert (info.sandbox_id, info.state, info.template_id) == (sbx.sandbox_id, "running", "default")
        assert info.metadata == {"suite": "py-lifecycle"}
        assert info.cpu_count > 0 and info.memory_mb > 0
        assert sbx.is_running() is True
        assert sbx.commands.run("echo $API_TOKEN").stdout == "xxx\n"

        listed = tb.Sandbox.list(metadata={"suite": "py-lifecycle"})
        assert [s.sandbox_id for s in listed] == [sbx.sandbox_id]
        assert tb.Sandbox.list(state=["paused"], metadata={"suite": "py-lifecycle"}) == []
        mine = {"metadata": {"suite": "py-lifecycle"}}
        assert [
            s.sandbox_id for s in tb.Sandbox.list(template="base", started_after=info.started_at, order="asc", **mine)
        ] == [sbx.sandbox_id]
        assert tb.Sandbox.list(template="no-such-template", **mine) == []
        assert tb.Sandbox.list(started_after=info.started_at + timedelta(minutes=1), **mine) == []

        before = sbx.get_info().end_at
        sbx.set_timeout(300_000)
        assert sbx.get_info().end_at > before
        sbx.set_timeout(30_000)
        assert sbx.get_info().end_at < before + timedelta(seconds=40)
        sbx.keep_alive(120_000)

        again = tb.Sandbox.connect(sbx.sandbox_id)
        assert again.commands.run("echo again").stdout == "again\n"
        again.disconnect()
        assert isinstance(sbx.get_metrics(), list)
        assert isinstance(sbx.get_logs(), list)
    finally:
        assert sbx.kill() is True
    assert sbx.is_running() is False
    assert tb.Sandbox.kill(sbx.sandbox_id) is False
    with pytest.raises(tb.NotFoundException):
        tb.Sandbox.connect(sbx.sandbox_id)
    with pytest.raises(tb.NotFoundException):
        tb.Sandbox.get_info(sbx.sandbox_id)


def test_create_unknown_template_is_not_found(server):
    with pytest.raises(tb.NotFoundException):
        tb.Sandbox.create("no-such-template")


def test_wrong_api_key_is_authentication_error(server):
    with pytest.raises(tb.AuthenticationException):
        tb.Sandbox.list(api_key="e2b_" + "0" * 32)


def test_inactivity_timeout_kills(server):
    sbx = tb.Sandbox.create("default", timeout_ms=1000)
    try:
        assert wait_for(lambda: not sbx.is_running(), timeout_s=15, interval_s=0.5)
        with pytest.raises(tb.NotFoundException):
            sbx.get_info()
    finally:
        tb.Sandbox.kill(sbx.sandbox_id)


def test_pause_resume_keeps_files_and_processes(sandbox):
    sandbox.files.write("/home/user/kept.txt", "kept")
    bg = sandbox.commands.run("sleep 600", background=True)
    sandbox.pause()
    assert sandbox.get_info().state == "paused"
    assert sandbox.is_running() is False
    with pytest.raises(tb.SandboxException):
        sandbox.pause()  # already paused: a conflict
    sandbox.resume(60_000)
    assert sandbox.get_info().state == "running"
    assert sandbox.files.read("/home/user/kept.txt") == "kept"
    assert any(p.pid == bg.pid for p in sandbox.commands.list()), "the background process survived"


def _sleeping(sbx) -> bool:
    return any("sleep 600" in " ".join([p.cmd, *p.args]) for p in sbx.commands.list())


def test_filesystem_only_pause_and_reboot(sandbox):
    boot_id = "/proc/sys/kernel/random/boot_id"
    sandbox.files.write("/home/user/kept.txt", "kept")
    boot1 = sandbox.files.read(boot_id).strip()
    sandbox.commands.run("sleep 600", background=True)
    assert _sleeping(sandbox)
    sandbox.pause(keep_memory=False)
    assert sandbox.get_info().state == "paused"
    sandbox.resume(60_000)
    assert sandbox.files.read("/home/user/kept.txt") == "kept"
    boot2 = sandbox.files.read(boot_id).strip()
    assert boot2 != boot1, "a new boot"
    assert not _sleeping(sandbox), "the processes ended"
    with pytest.raises(ValueError):
        sandbox.pause(mode="light")
    # E2B's newer name: mode="filesystem" is keep_memory=False.
    sandbox.commands.run("sleep 600", background=True)
    assert _sleeping(sandbox)
    sandbox.pause(mode="filesystem")
    sandbox.resume(60_000)
    assert not _sleeping(sandbox)
    # A memory pause resumed with on_resume="reboot" boots afresh too.
    sandbox.commands.run("sleep 600", background=True)
    assert _sleeping(sandbox)
    tb.Sandbox.pause(sandbox.sandbox_id)
    again = tb.Sandbox.connect(sandbox.sandbox_id, on_resume="reboot")
    assert again.files.read(boot_id).strip() not in (boot1, boot2)
    assert not _sleeping(again)
    with pytest.raises(ValueError):
        tb.Sandbox.connect(sandbox.sandbox_id, on_resume="wake")


def test_filesystem_only_lifecycle_refuses_auto_resume(server):
    lc = tb.LifecycleConfig(on_timeout="pause", keep_memory=False, auto_resume=True)
    with pytest.raises(ValueError):
        tb.Sandbox.create("default", lifecycle=lc)
    with pytest.raises(ValueError):
        tb.Sandbox.create("default", lifecycle=tb.LifecycleConfig(on_timeout="kill", keep_memory=False))


def test_snapshot_starts_new_sandboxes(sandbox):
    sandbox.files.write("/home/user/snap.txt", "at snapshot")
    snap = sandbox.create_snapshot("py-snap")
    assert snap.snapshot_id and snap.sandbox_id == sandbox.sandbox_id
    assert any(s.snapshot_id == snap.snapshot_id for s in tb.Snapshot.list(sandbox_id=sandbox.sandbox_id))
    copy = tb.Sandbox.create(snap.snapshot_id, timeout_ms=60_000)
    try:
        assert copy.sandbox_id != sandbox.sandbox_id
        assert copy.files.read("/home/user/snap.txt") == "at snapshot"
    finally:
        copy.kill()


# --- commands -------------------------------------------------------------------------------------------------------


def test_commands_foreground_streaming_user_cwd_envs(sandbox):
    chunks = []
    r = sandbox.commands.run("for i in 1 2 3; do echo line$i; sleep 0.1; done; echo e >&2", on_stdout=chunks.append)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "line1\nline2\nline3\n", "e\n")
    assert "".join(chunks) == r.stdout and len(chunks) >= 2
    r = sandbox.commands.run("whoami; pwd; echo $FOO", cwd="/tmp", envs={"FOO": "bar"}, user="root")
    assert r.stdout == "root\n/tmp\nbar\n"
    assert sandbox.commands.run("whoami; pwd").stdout == "user\n/home/user\n"


def test_commands_exit_and_timeout(sandbox):
    with pytest.raises(tb.CommandExitException) as ei:
        sandbox.commands.run("echo partial; echo bad >&2; exit 3")
    assert (ei.value.exit_code, ei.value.stdout, ei.value.stderr) == (3, "partial\n", "bad\n")
    t0 = time.monotonic()
    with pytest.raises(tb.TimeoutException):
        sandbox.commands.run("sleep 30", timeout_ms=1000)
    assert time.monotonic() - t0 < 10


def test_commands_background_stdin_list_kill(sandbox):
    h = sandbox.commands.run("sleep 600", background=True)
    assert any(p.pid == h.pid for p in sandbox.commands.list())
    assert h.kill() is True
    with pytest.raises(tb.CommandExitException):
        h.wait(timeout_s=10)
    assert wait_for(lambda: not any(p.pid == h.pid for p in sandbox.commands.list()))
    assert sandbox.commands.kill(h.pid) is False

    cat = sandbox.commands.run("head -n 1", background=True)
    cat.send_stdin("from stdin\n")
    assert cat.wait(timeout_s=10).stdout == "from stdin\n"


# --- files ----------------------------------------------------------------------------------------------------------


def test_files_all_operations(sandbox):
    f = sandbox.files
    info = f.write("/home/user/hello.txt", "Hello World!")
    assert (info.path, info.name, info.type, info.size) == ("/home/user/hello.txt", "hello.txt", "file", 12)
    assert f.read("/home/user/hello.txt") == "Hello World!"
    blob = bytes(range(256)) * 100
    f.write("/tmp/blob.bin", blob)
    assert f.read("/tmp/blob.bin", format="bytes") == blob
    assert b"".join(f.read("/tmp/blob.bin", format="stream")) == blob
    infos = f.write([tb.WriteEntry("/tmp/a.txt", "aaa"), tb.WriteEntry("/tmp/sub/b.txt", b"bbb")])
    assert [i.path for i in infos] == ["/tmp/a.txt", "/tmp/sub/b.txt"]
    assert f.read("/tmp/sub/b.txt") == "bbb"
    assert f.make_dir("/home/user/project/src") is True
    assert f.make_dir("/home/user/project/src") is False
    assert f.exists("/home/user/project") is True
    f.write("/home/user/project/old.txt", "x")
    moved = f.rename("/home/user/project/old.txt", "/home/user/project/new.txt")
    assert moved.name == "new.txt"
    entries = {(e.name, e.type) for e in f.list("/home/user/project")}
    assert entries == {("new.txt", "file"), ("src", "dir")}
    st = f.get_info("/home/user/project/new.txt")
    assert (st.type, st.size, st.owner) == ("file", 1, "user")
    f.remove("/home/user/project")
    assert f.exists("/home/user/project") is False
    with pytest.raises(tb.NotFoundException):
        f.read("/nope/missing.txt")
    with pytest.raises(tb.NotFoundException):
        f.list("/nope")
    assert sandbox.commands.run("cat /home/user/hello.txt").stdout == "Hello World!"


def test_watch_dir_recursive_and_stop(sandbox):
    events, exits = [], []
    seen = threading.Event()

    def on_event(e):
        events.append(e)
        if "inner.txt" in e.name:
            seen.set()

    w = sandbox.files.watch_dir("/home/user", on_event, recursive=True, on_exit=exits.append)
    sandbox.files.write("/home/user/watched.txt", "x")
    sandbox.commands.run("mkdir -p /home/user/wd && echo y > /home/user/wd/inner.txt")
    assert seen.wait(10), f"events: {events}"
    w.stop()
    assert any(e.name == "watched.txt" and e.path == "/home/user/watched.txt" for e in events), events
    assert exits == [None]
    n = len(events)
    sandbox.files.write("/home/user/after-stop.txt", "x")
    time.sleep(0.5)
    assert len(events) == n


# --- ports, URLs, terminals -----------------------------------------------------------------------------------------


def test_get_host_serves_through_server(sandbox, server):
    sandbox.commands.run("mkdir -p /tmp/www && echo served > /tmp/www/index.html")
    sandbox.commands.run("cd /tmp/www && python3 -m http.server 8000", background=True)
    host = sandbox.get_host(8000)
    assert host.startswith(f"{sandbox.sandbox_id}-8000.")
    last = None

    def fetched():
        nonlocal last
        try:
            last = httpx.get(f"{server['url']}/index.html", headers={"Host": host}, timeout=5)
        except httpx.HTTPError:
            return False
        return last.status_code == 200

    assert wait_for(fetched, timeout_s=15, interval_s=0.3), last
    assert last.text == "served\n"


def test_signed_urls_work_with_plain_http(sandbox):
    up = sandbox.upload_url("/home/user/up.txt")
    r = httpx.post(up, content=b"uploaded", headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert sandbox.files.read("/home/user/up.txt") == "uploaded"
    down = sandbox.download_url("/home/user/up.txt", use_signature_expiration=60)
    assert httpx.get(down).content == b"uploaded"
    forged = down.replace("signature=v1_", "signature=v1_x")
    assert httpx.get(forged).status_code in (401, 403)


def test_pty_size_input_resize_kill(sandbox):
    out = bytearray()
    lock = threading.Lock()

    def on_data(b):
        with lock:
            out.extend(b)

    pty = sandbox.pty.create(cols=100, rows=30, on_data=on_data)
    assert pty.is_open
    pty.send_input("stty size\n")
    assert wait_for(lambda: b"30 100" in out), bytes(out)
    pty.resize(cols=120, rows=40)
    pty.send_input("stty size\n")
    assert wait_for(lambda: b"40 120" in out), bytes(out)
    assert pty.kill() is True
    assert wait_for(lambda: not pty.is_open)


# --- network ----------------------------------------------------------------------------------------------------------


def test_network_traffic_token_and_update_network(server):
    sbx = tb.Sandbox.create(
        "default", timeout_ms=60_000, network={"allowPublicTraffic": False, "denyOut": ["198.51.100.0/24"]}
    )
    try:
        assert sbx.traffic_access_token
        sbx.commands.run("python3 -m http.server 8000 >/dev/null 2>&1", background=True)
        url = f"{sbx.connection_config.api_url}/"
        headers = {"E2b-Sandbox-Id": sbx.sandbox_id, "E2b-Sandbox-Port": "8000"}
        assert wait_for(
            lambda: (
                httpx.get(url, headers={**headers, "e2b-traffic-access-token": sbx.traffic_access_token}).status_code
                == 200
            )
        )
        assert httpx.get(url, headers=headers).status_code == 403
        sbx.update_network(allow_out=["203.0.113.9"], deny_out=["0.0.0.0/0"])
        detail = httpx.get(
            f"{sbx.connection_config.api_url}/sandboxes/{sbx.sandbox_id}",
            headers={"X-API-Key": sbx.connection_config.api_key},
        ).json()
        assert detail["network"]["allowOut"] == ["203.0.113.9"] and detail["network"]["denyOut"] == ["0.0.0.0/0"]
        with pytest.raises(tb.InvalidArgumentException):
            sbx.update_network(deny_out=["not-an-ip"])
    finally:
        sbx.kill()
