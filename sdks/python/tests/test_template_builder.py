"""The fluent template builder and its helpers without a server: the build request each method makes, the errors
an invalid definition raises at once, safe quoting, the deterministic tar of ``copy`` (read back by the system tar,
symlinks kept), and the sync/async surfaces the issue asks for existing on both clients."""

from __future__ import annotations

import inspect
import io
import os
import subprocess
import tarfile

import pytest

import tensor_box as tb
from tensor_box.template_fluent import pack_tar


def test_steps_in_order_with_source_start_and_ready():
    t = (
        tb.Template()
        .from_template("default")
        .copy("app", "/app", user="user", mode=0o755)
        .run_cmd(["echo a", "echo b"])
        .set_envs({"A": "1", "B": "two words"})
        .set_workdir("/app")
        .set_user("svc")
        .apt_install(["jq", "curl"])
        .pip_install("requests==2.*")
        .npm_install("left-pad", g=True)
        .set_start_cmd("python3 -m http.server 8000", tb.wait_for_port(8000))
    )
    r = t.to_build_request()
    assert r["fromTemplate"] == "default"
    assert r["readyCmd"] == "ss -tuln | grep -q ':8000\\b'"
    assert [(s["type"], s["args"]) for s in r["steps"]] == [
        ("COPY", ["app", "/app", "user", "0755"]),
        ("RUN", ["echo a && echo b"]),
        ("ENV", ["A", "1", "B", "two words"]),
        ("WORKDIR", ["/app"]),
        ("USER", ["svc"]),
        (
            "RUN",
            [
                "apt-get update && DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes "
                "apt-get install -y --no-install-recommends jq curl",
                "root",
            ],
        ),
        ("RUN", ["pip install 'requests==2.*'", "root"]),
        ("RUN", ["npm install -g left-pad", "root"]),
    ]
    assert tb.AsyncTemplate().from_image("debian:bookworm").skip_cache().to_build_request()["force"] is True


@pytest.mark.parametrize(
    "make",
    [
        lambda: tb.Template().from_template("a").from_image("b"),
        lambda: tb.Template().from_template(""),
        lambda: tb.Template().set_workdir("relative"),
        lambda: tb.Template().set_envs({"BAD-NAME": "x"}),
        lambda: tb.Template().set_user("no spaces"),
        lambda: tb.Template().copy("a", "/b", mode="rwx"),
        lambda: tb.Template().run_cmd("  "),
        lambda: tb.Template().apt_install([]),
        lambda: tb.Template().run_cmd("x").to_build_request(),
        lambda: tb.wait_for_port(70000),
        lambda: tb.Template.build(tb.Template().run_cmd("x"), alias="no-source"),
    ],
)
def test_invalid_definitions_raise_invalid_argument(make):
    with pytest.raises(tb.InvalidArgumentException):
        make()


def test_hostile_package_name_stays_one_argument(tmp_path):
    cmd = (
        tb.Template()
        .from_base_image()
        .apt_install(["x'; touch pwned; echo '"])
        .to_build_request()["steps"][0]["args"][0]
    )
    printed = subprocess.run(
        ["sh", "-c", cmd.replace(cmd[: cmd.index("--no-install-recommends ") + 24], 'printf "%s\\n" ')],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed == "x'; touch pwned; echo '\n"
    assert not (tmp_path / "pwned").exists()


def test_pack_tar_is_deterministic_keeps_links_and_refuses_escapes(tmp_path):
    app = tmp_path / "app" / ("d" * 60) / ("e" * 70)
    app.mkdir(parents=True)
    (tmp_path / "app" / "a.txt").write_text("hello\n")
    (app / "f.bin").write_bytes(os.urandom(1500))
    os.symlink("a.txt", tmp_path / "app" / "link")
    os.symlink("/nowhere", tmp_path / "app" / "dangling")
    a = pack_tar(str(tmp_path), ["app"])
    assert a == pack_tar(str(tmp_path), ["./app"])
    names = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(a)).getmembers()}
    assert names["app/link"].issym() and names["app/link"].linkname == "a.txt"
    assert names["app/dangling"].linkname == "/nowhere"
    assert all(m.uid == 0 and m.mtime == 0 for m in names.values())
    (tmp_path / "out.tar").write_bytes(a)
    listing = subprocess.run(
        ["tar", "-tvf", str(tmp_path / "out.tar")], capture_output=True, text=True, check=True
    ).stdout
    assert "app/link -> a.txt" in listing and f"app/{'d' * 60}/{'e' * 70}/f.bin" in listing
    with pytest.raises(tb.InvalidArgumentException):
        pack_tar(str(tmp_path), ["../etc"])
    with pytest.raises(tb.InvalidArgumentException):
        pack_tar(str(tmp_path), ["missing"])


def test_new_surface_exists_sync_and_async():
    assert callable(tb.Sandbox.fork) and callable(tb.Sandbox.paginate)
    assert callable(tb.Snapshot.delete) and inspect.iscoroutinefunction(tb.AsyncSnapshot.delete)
    assert callable(tb.Template.upload_files) and inspect.iscoroutinefunction(tb.AsyncTemplate.upload_files)
    assert callable(tb.Template.build) and inspect.iscoroutinefunction(tb.AsyncTemplate.build)
    assert callable(tb.Pty.connect) and inspect.iscoroutinefunction(tb.AsyncSandbox.fork)
