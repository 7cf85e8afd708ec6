"""The asyncio twin (AsyncSandbox, AsyncTemplate): against the fake envd (no runtime needed) and against a live
server. Callbacks must arrive on the event loop's thread."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from fake_envd import FakeEnvd

import tensor_box as tb


@pytest.fixture
def fake():
    server = FakeEnvd()
    yield server
    server.stop()


def test_async_against_fake_envd(fake):
    conn = {"domain": fake.url, "api_key": "e2b_test"}

    async def main():
        loop_thread = threading.get_ident()
        threads = set()
        sbx = await tb.AsyncSandbox.create("default", timeout_ms=1500, **conn)
        assert sbx.sandbox_id == "sbxfake" and sbx.get_host(80).startswith("sbxfake-80.")
        chunks = []

        def on_stdout(s):
            threads.add(threading.get_ident())
            chunks.append(s)

        r = await sbx.commands.run("echo hi", on_stdout=on_stdout)
        await asyncio.sleep(0)  # let the callbacks scheduled on the loop run
        assert (r.exit_code, r.stdout) == (0, "paé\n") and "".join(chunks) == "paé\n"
        assert threads == {loop_thread}
        await sbx.files.write("/home/user/a.txt", "aaa")
        assert await sbx.files.read("/home/user/a.txt") == "aaa"
        with pytest.raises(tb.NotFoundException):
            await sbx.files.get_info("/nope")
        assert await tb.AsyncSandbox.kill("gone", **conn) is False
        assert await sbx.kill() is True
        await tb.AsyncTemplate.start_build("tpl1", "b1", from_template="default", **conn)
        logs = []
        build = await tb.AsyncTemplate.wait_for_build("tpl1", "b1", interval_ms=10, on_log=logs.append, **conn)
        await asyncio.sleep(0)
        assert build.status == "ready" and [e.message for e in logs] == ["line 0", "line 1"]

    asyncio.run(main())


@pytest.mark.integration
def test_async_live(server):
    async def main():
        async with await tb.AsyncSandbox.create("default", timeout_ms=120_000) as sbx:
            results = await asyncio.gather(*(sbx.commands.run(f"echo {i}") for i in range(4)))  # concurrent calls
            assert [r.stdout for r in results] == ["0\n", "1\n", "2\n", "3\n"]
            await sbx.files.write(
                [tb.WriteEntry("/home/user/w/a.txt", "a"), tb.WriteEntry("/home/user/w/b.bin", b"\x00\x01")]
            )
            assert sorted(e.name for e in await sbx.files.list("/home/user/w")) == ["a.txt", "b.bin"]
            stream = await sbx.files.read("/home/user/w/b.bin", format="stream")
            assert b"".join([c async for c in stream]) == b"\x00\x01"

            events: asyncio.Queue = asyncio.Queue()

            async def on_event(ev):  # a coroutine callback, scheduled on the loop
                await events.put(ev)

            watch = await sbx.files.watch_dir("/home/user/w", on_event)
            await sbx.files.write("/home/user/w/new.txt", "x")
            ev = await asyncio.wait_for(events.get(), 10)
            assert ev.name == "new.txt"
            await watch.stop()

            h = await sbx.commands.run("sleep 600", background=True)
            assert any(p.pid == h.pid for p in await sbx.commands.list())
            assert await h.kill() is True

            out = bytearray()
            pty = await sbx.pty.create(cols=100, rows=30, on_data=out.extend)
            await pty.send_input("stty size; exit\n")
            assert await pty.wait(10) == 0
            assert b"30 100" in bytes(out)

            info = await sbx.get_info()
            assert info.state == "running" and await sbx.is_running()
            await sbx.pause()
            assert (await tb.AsyncSandbox.get_info(sbx.sandbox_id)).state == "paused"
            again = await tb.AsyncSandbox.connect(sbx.sandbox_id)
            assert (await again.commands.run("cat /home/user/w/a.txt")).stdout == "a"

    asyncio.run(main())


@pytest.mark.integration
def test_async_template_build(server):
    import httpx

    r = httpx.post(
        f"{server['url']}/v3/templates", json={"name": "probe", "cpuCount": 0}, headers={"X-API-Key": server["api_key"]}
    )
    if r.status_code in (404, 405):
        pytest.skip("the server has no template build service yet")

    async def main():
        name = f"py-async-{time.time_ns():x}"
        created = await tb.AsyncTemplate.create(name, memory_mb=1024)
        try:
            await tb.AsyncTemplate.start_build(
                created.template_id,
                created.build_id,
                from_template="default",
                steps=[{"name": "w", "command": "echo async > /home/user/a.txt"}],
            )
            logs = []
            await tb.AsyncTemplate.wait_for_build(
                created.template_id, created.build_id, interval_ms=200, on_log=logs.append
            )
            assert logs
            async with await tb.AsyncSandbox.create(name) as sbx:
                assert await sbx.files.read("/home/user/a.txt") == "async\n"
                tpl = await sbx.commit_as_template(f"{name}-c")
                assert tpl.status == "ready"
                assert await tb.AsyncTemplate.exists(f"{name}-c")
            assert await tb.AsyncTemplate.delete(tpl.template_id) is True
        finally:
            await tb.AsyncTemplate.delete(created.template_id)

    asyncio.run(main())


@pytest.mark.integration
def test_async_parity_live(server, tmp_path):
    """The issue-16 surface as coroutines: fork, snapshot delete, pty re-attach, pages, and the fluent builder."""
    (tmp_path / "hello.txt").write_text("from the async builder\n")

    async def main():
        async with await tb.AsyncSandbox.create("default", timeout_ms=300_000, metadata={"t": "async-parity"}) as sbx:
            await sbx.files.write("/home/user/state.txt", "before fork")
            [copy] = await sbx.fork()
            try:
                assert await copy.files.read("/home/user/state.txt") == "before fork"
            finally:
                await copy.kill()
            snap = await sbx.create_snapshot("async-snap")
            assert await tb.AsyncSnapshot.delete(snap.snapshot_id) is True
            assert await tb.AsyncSnapshot.delete(snap.snapshot_id) is False
            out = []
            pty = await sbx.pty.create(on_data=lambda b: out.append(b))
            await pty.send_input("export K=$((20+22))\n")
            pty.disconnect()
            seen = []
            back = await sbx.pty.connect(pty.pid, on_data=lambda b: seen.append(b))
            await back.send_input("echo k=$K\n")
            for _ in range(100):
                if b"k=42" in b"".join(seen):
                    break
                await asyncio.sleep(0.1)
            assert b"k=42" in b"".join(seen)
            assert await back.kill() is True
            with pytest.raises(tb.NotFoundException):
                await sbx.pty.connect(pty.pid)
            page = tb.AsyncSandbox.paginate(metadata={"t": "async-parity"}, limit=1)
            assert [s.sandbox_id for s in await page.next_items()] == [sbx.sandbox_id]
        t = (
            tb.AsyncTemplate(file_context_path=str(tmp_path))
            .from_template("default")
            .copy("hello.txt", "/opt/hello.txt")
        )
        info = await tb.AsyncTemplate.build(t, alias="async-fluent", memory_mb=1024)
        assert info.status == "ready"
        async with await tb.AsyncSandbox.create("async-fluent", timeout_ms=120_000) as built:
            assert await built.files.read("/opt/hello.txt") == "from the async builder\n"
        await tb.AsyncTemplate.delete("async-fluent")

    asyncio.run(main())
