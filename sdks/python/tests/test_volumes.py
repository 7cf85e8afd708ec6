"""Volumes against a live server: our SDK's ``Volume`` and ``volume_mounts``, and the stock ``e2b`` package's
``Volume`` and ``volume_mounts`` unchanged (with E2B_VOLUME_API_URL pointing its content API at our server)."""

from __future__ import annotations

import pytest

import tensor_box as tb

pytestmark = pytest.mark.integration


def test_volume_sdk(server):
    vol = tb.Volume.create("py-vol", size_mb=16)
    assert vol.size_mb == 16 and vol.token
    vol.write_file("/in.txt", "from python")
    sbx = tb.Sandbox.create("default", timeout_ms=60_000, volume_mounts={"/mnt/py": vol})
    try:
        r = sbx.commands.run("cat /mnt/py/in.txt; echo out > /mnt/py/out.txt")
        assert r.stdout == "from python"
        with pytest.raises(tb.ConflictException):
            tb.Volume.delete("py-vol")
    finally:
        sbx.kill()
    got = tb.Volume.get("py-vol")
    assert got.read_file("/out.txt") == "out\n"
    got.make_dir("/a/b", force=True)
    assert [e.path for e in got.list_dir("/", depth=2)] == ["/a", "/a/b", "/in.txt", "/lost+found", "/out.txt"]
    assert got.get_info("/a").type == "directory"
    got.remove("/a")
    with pytest.raises(tb.NotFoundException):
        got.get_info("/a")
    with pytest.raises(tb.NotEnoughSpaceException):
        got.write_file("/big", b"\0" * (24 << 20))
    with pytest.raises(tb.InvalidArgumentException):
        got.read_file("/../etc/passwd")
    assert any(v.name == "py-vol" for v in tb.Volume.list())
    assert tb.Volume.delete(vol.volume_id) is True
    assert tb.Volume.delete(vol.volume_id) is False


def test_stock_e2b_volume(server, monkeypatch):
    monkeypatch.setenv("E2B_API_URL", server["url"])
    monkeypatch.setenv("E2B_SANDBOX_URL", server["url"])
    monkeypatch.setenv("E2B_API_KEY", server["api_key"])
    monkeypatch.setenv("E2B_VOLUME_API_URL", server["url"])
    from e2b import Sandbox, Volume

    vol = Volume.create("e2b-py-vol")
    try:
        vol.write_file("/hello.txt", "from the stock sdk")
        sbx = Sandbox.create(timeout=120, volume_mounts={"/mnt/e2b": vol})
        try:
            assert sbx.commands.run("cat /mnt/e2b/hello.txt").stdout == "from the stock sdk"
            sbx.commands.run("echo back > /mnt/e2b/back.txt")
        finally:
            sbx.kill()
        assert vol.read_file("/back.txt") == "back\n"
        assert sorted(e.name for e in vol.list("/")) == ["back.txt", "hello.txt", "lost+found"]
        assert [v.name for v in Volume.list()] == ["e2b-py-vol"]
        assert Volume.connect(vol.volume_id).name == "e2b-py-vol"
    finally:
        assert Volume.destroy(vol.volume_id) is True


def test_async_volume(server):
    import asyncio

    async def go():
        vol = await tb.AsyncVolume.create("py-async-vol", size_mb=16)
        await vol.write_file("/a.txt", "async")
        assert await vol.read_file("/a.txt") == "async"
        assert [e.name for e in await vol.list_dir("/")] == ["a.txt", "lost+found"]
        assert (await tb.AsyncVolume.get("py-async-vol")).volume_id == vol.volume_id
        assert await tb.AsyncVolume.delete(vol.volume_id) is True

    asyncio.run(go())
