"""The stock `e2b` package from PyPI (pinned in pyproject's test extras), unchanged, against our server: pointed at it
with E2B_API_URL / E2B_SANDBOX_URL / E2B_API_KEY exactly as a self-hosting user would."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def e2b_env(server, monkeypatch):
    monkeypatch.setenv("E2B_API_URL", server["url"])
    monkeypatch.setenv("E2B_SANDBOX_URL", server["url"])
    monkeypatch.setenv("E2B_API_KEY", server["api_key"])


def test_stock_e2b_sdk(e2b_env):
    from e2b import CommandExitException, NotFoundException, Sandbox

    sbx = Sandbox.create(timeout=120, metadata={"via": "e2b-python"})
    try:
        r = sbx.commands.run("echo hello; whoami")
        assert (r.exit_code, r.stdout) == (0, "hello\nuser\n")
        with pytest.raises(CommandExitException) as ei:
            sbx.commands.run("exit 7")
        assert ei.value.exit_code == 7

        sbx.files.write("/home/user/e2b.txt", "from e2b")
        assert sbx.files.read("/home/user/e2b.txt") == "from e2b"
        sbx.files.write_files(
            [
                {"path": "/home/user/multi/a.txt", "data": "a"},
                {"path": "/home/user/multi/b.txt", "data": "b"},
            ]
        )
        assert sorted(e.name for e in sbx.files.list("/home/user/multi")) == ["a.txt", "b.txt"]
        with pytest.raises(NotFoundException):
            sbx.files.read("/home/user/missing.txt")
        # Below a directory that does not exist, as `user`: root makes it and hands it over, as E2B's envd does.
        assert sbx.files.write("/0/file.txt", "deep").path == "/0/file.txt"
        assert sbx.files.get_info("/0").owner == "user"
    finally:
        sbx.kill()
    assert sbx.is_running() is False


def test_stock_e2b_sdk_pause_connect(e2b_env):
    from e2b import Sandbox

    sbx = Sandbox.create(timeout=120)
    try:
        sbx.files.write("/home/user/kept.txt", "kept")
        bg = sbx.commands.run("sleep 600", background=True)
        assert Sandbox.pause(sbx.sandbox_id) is True
        assert sbx.is_running() is False
        again = Sandbox.connect(sbx.sandbox_id)
        assert again.is_running() is True
        assert again.files.read("/home/user/kept.txt") == "kept"
        assert any(p.pid == bg.pid for p in again.commands.list()), "background process survived the pause"
    finally:
        Sandbox.kill(sbx.sandbox_id)


def _sleeping(sbx) -> bool:
    return any("sleep 600" in " ".join([p.cmd, *p.args]) for p in sbx.commands.list())


def test_stock_e2b_sdk_filesystem_pause(e2b_env):
    """keep_memory=False / mode="filesystem": the files stay, the processes end, resume is a new boot."""
    import time

    from e2b import Sandbox

    boot_id = "/proc/sys/kernel/random/boot_id"
    sbx = Sandbox.create(timeout=120)
    try:
        sbx.files.write("/home/user/kept.txt", "kept")
        boot1 = sbx.files.read(boot_id).strip()
        sbx.commands.run("sleep 600", background=True)
        assert _sleeping(sbx)
        assert sbx.pause(mode="filesystem") is True
        assert sbx.is_running() is False
        again = Sandbox.connect(sbx.sandbox_id)
        assert again.files.read("/home/user/kept.txt") == "kept"
        assert again.files.read(boot_id).strip() != boot1, "a new boot"
        assert not _sleeping(again), "the background process is gone"
    finally:
        Sandbox.kill(sbx.sandbox_id)

    timed = Sandbox.create(timeout=1, lifecycle={"on_timeout": {"action": "pause", "mode": "filesystem"}})
    try:
        timed.files.write("/home/user/t.txt", "timed out")
        deadline = time.time() + 30
        while Sandbox.get_info(timed.sandbox_id).state.value != "paused":
            assert time.time() < deadline, "auto-pause"
            time.sleep(0.2)
        again = Sandbox.connect(timed.sandbox_id, timeout=60)
        assert again.files.read("/home/user/t.txt") == "timed out"
    finally:
        Sandbox.kill(timed.sandbox_id)


def test_stock_e2b_sdk_list_kill_by_id(e2b_env):
    import datetime

    from e2b import NotFoundException, Sandbox, SandboxQuery

    sbx = Sandbox.create(timeout=120, metadata={"via": "e2b-python-list"})
    try:
        found = Sandbox.list(query=SandboxQuery(metadata={"via": "e2b-python-list"})).next_items()
        assert [s.sandbox_id for s in found] == [sbx.sandbox_id]
        # Filters and order (GET /v2/sandboxes' order, startedAfter, template).
        started = found[0].started_at

        def ids(**q):
            order = q.pop("order", None)
            query = SandboxQuery(metadata={"via": "e2b-python-list"}, **q)
            return [s.sandbox_id for s in Sandbox.list(query=query, order=order).next_items()]

        assert ids(template="base", started_after=started, order="asc") == [sbx.sandbox_id]
        assert ids(template="no-such-template") == []
        assert ids(started_after=started + datetime.timedelta(minutes=1)) == []
        assert sbx.get_info().metadata == {"via": "e2b-python-list"}
    finally:
        assert Sandbox.kill(sbx.sandbox_id) is True
    assert Sandbox.kill(sbx.sandbox_id) is False
    with pytest.raises(NotFoundException):
        Sandbox.connect(sbx.sandbox_id)


def test_stock_e2b_template_build(e2b_env):
    """E2B's build system (Template().from_template(...).run_cmd(...), Template.build) builds a template here, and the
    stock SDK starts a sandbox from it by name."""
    import time

    from e2b import Sandbox, Template

    import tensor_box as tb

    name = f"e2b-py-{time.time_ns():x}"
    logs = []
    info = Template.build(
        Template().from_template("default").run_cmd("echo from-e2b > /home/user/e2b.txt"),
        alias=name,
        on_build_logs=logs.append,
    )
    try:
        assert info.template_id and any("build ready" in str(e) for e in logs)
        sbx = Sandbox.create(name, timeout=60)
        try:
            assert sbx.files.read("/home/user/e2b.txt") == "from-e2b\n"
        finally:
            sbx.kill()
    finally:
        tb.Template.delete(info.template_id)


def test_stock_e2b_template_tags(e2b_env):
    """Template tags through the stock SDK: build `name:tag`, create by `name:tag`, assign_tags, get_tags,
    remove_tags (the TS suite's tests/e2b-api.test.ts checks the same on the JS SDK)."""
    import time

    from e2b import Sandbox, Template

    import tensor_box as tb

    name = f"e2b-py-tags-{time.time_ns():x}"

    def build(v, tags=None):
        t = Template().from_template("default").run_cmd(f"echo {v} > /home/user/v.txt")
        return Template.build(t, f"{name}:{v}", tags=tags)

    def read(ref):
        sbx = Sandbox.create(ref, timeout=60)
        try:
            return sbx.files.read("/home/user/v.txt").strip()
        finally:
            sbx.kill()

    v1 = build("v1")
    try:
        v2 = build("v2", tags=["candidate"])
        assert v2.template_id == v1.template_id, "one template, two builds"
        assert (read(f"{name}:v1"), read(f"{name}:candidate")) == ("v1", "v2")
        assigned = Template.assign_tags(f"{name}:v2", ["production", "default"])
        assert assigned.build_id == v2.build_id and sorted(assigned.tags) == ["default", "production"]
        assert read(name) == "v2"
        by_tag = {t.tag: t.build_id for t in Template.get_tags(name)}
        assert by_tag == {
            "candidate": v2.build_id,
            "default": v2.build_id,
            "production": v2.build_id,
            "v1": v1.build_id,
            "v2": v2.build_id,
        }
        Template.remove_tags(name, ["production", "candidate"])
        assert sorted(t.tag for t in Template.get_tags(name)) == ["default", "v1", "v2"]
        with pytest.raises(Exception, match="(?i)not found"):
            Sandbox.create(f"{name}:production")
    finally:
        tb.Template.delete(v1.template_id)


def test_stock_e2b_file_metadata_and_watch_entries(e2b_env):
    """File metadata (envd 0.6.2), watch events with entry info (0.6.3) and network-mount watching (0.6.4) through the
    stock SDK, and the events of a write as E2B's envd emits them (E2B's own test: exactly three for a new file)."""
    import time

    from e2b import FilesystemEventType, FileType, Sandbox

    sbx = Sandbox.create(timeout=120)
    try:
        md = {"author": "py", "purpose": "upload"}
        assert sbx.files.write("meta.txt", "x", metadata=md).metadata == md
        assert sbx.files.get_info("meta.txt").metadata == md
        assert sbx.files.write("meta.txt", "y").metadata is None
        assert sbx.files.get_info("meta.txt").metadata is None

        sbx.files.make_dir("watched")
        handle = sbx.files.watch_dir("watched", include_entry=True, allow_network_mounts=True)
        sbx.files.write("watched/new.txt", "content")
        events = handle.get_new_events()
        deadline = time.time() + 5  # on a loaded host the watcher may read the events a moment after the write returns
        while len(events) < 3 and time.time() < deadline:
            time.sleep(0.1)
            events += handle.get_new_events()
        time.sleep(0.3)
        events += handle.get_new_events()  # and nothing more comes
        assert [(e.type, e.name) for e in events] == [
            (FilesystemEventType.CREATE, "new.txt"),
            (FilesystemEventType.CHMOD, "new.txt"),
            (FilesystemEventType.WRITE, "new.txt"),
        ]
        entry = events[2].entry
        assert entry is not None and entry.path == "/home/user/watched/new.txt" and entry.type == FileType.FILE
        handle.stop()
    finally:
        sbx.kill()


def test_stock_e2b_killed_during_command(e2b_env):
    """Killing a sandbox under a running command: the stream ends with E2B's `unavailable` error, the SDK's health probe
    gets E2B's "was not found", and the stock SDK says the sandbox was killed (E2B's own test asserts this wording)."""
    import threading

    from e2b import Sandbox, SandboxNotRunningException

    sbx = Sandbox.create(timeout=120)
    bg = sbx.commands.run("sleep 60", background=True)
    sbx.kill()
    with pytest.raises(SandboxNotRunningException) as ei:
        bg.wait()
    assert "sandbox was killed or reached its end of life" in str(ei.value)

    streaming = Sandbox.create(timeout=120)
    threading.Timer(1.0, lambda: Sandbox.kill(streaming.sandbox_id)).start()
    out = []
    with pytest.raises(SandboxNotRunningException):
        streaming.commands.run("for i in $(seq 100); do echo line $i; sleep 0.1; done", on_stdout=out.append)
    assert out and out[0] == "line 1\n", "the output before the kill arrived whole"


def test_stock_e2b_signed_file_urls(e2b_env):
    """With E2B_SANDBOX_URL the stock SDK's download_url/upload_url name no sandbox: the server finds the one whose
    token signed them. An expired one gets E2B's answer (E2B's own test compares the payload)."""
    import json
    import urllib.error
    import urllib.request

    from e2b import Sandbox

    sbx = Sandbox.create(timeout=120)
    try:
        sbx.files.write("signed.txt", "signed content")
        url = sbx.download_url("signed.txt", "user", 120)
        assert "/files?" in url and sbx.sandbox_id not in url
        with urllib.request.urlopen(url) as resp:
            assert (resp.status, resp.read().decode()) == (200, "signed content")
        expired = sbx.download_url("signed.txt", "user", use_signature_expiration=-120)
        with pytest.raises(urllib.error.HTTPError) as ei:
            urllib.request.urlopen(expired)
        assert ei.value.code == 401
        assert json.loads(ei.value.read().decode()) == {"code": 401, "message": "signature is already expired"}
    finally:
        sbx.kill()


def test_stock_e2b_copy_keeps_dangling_symlink(e2b_env, tmp_path):
    """COPY of a directory holding a symlink to nothing copies the link (as Docker does) instead of failing."""
    import os
    import time

    from e2b import Sandbox, Template

    import tensor_box as tb

    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "real.txt").write_text("real\n")
    os.symlink("/nonexistent/target", tmp_path / "dir" / "dangling")
    name = f"e2b-py-dangling-{time.time_ns():x}"
    info = Template.build(
        Template(file_context_path=str(tmp_path)).from_template("default").copy("dir", "/home/user/dir"), alias=name
    )
    try:
        sbx = Sandbox.create(name, timeout=60)
        try:
            out = sbx.commands.run("readlink /home/user/dir/dangling; cat /home/user/dir/real.txt").stdout
            assert out == "/nonexistent/target\nreal\n"
        finally:
            sbx.kill()
    finally:
        tb.Template.delete(info.template_id)
