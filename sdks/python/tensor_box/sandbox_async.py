"""``AsyncSandbox``: the asyncio twin of :class:`tensor_box.Sandbox`, with ``AsyncTemplate`` and ``AsyncSnapshot``
beside it — the same calls, as coroutines. Each runs the sync client's call in a worker thread
(``asyncio.to_thread``), so both share one wire implementation and one error mapping; callbacks (``on_stdout``,
``on_stderr``, ``on_data``, ``on_event``, ``on_exit``, ``on_log``) are delivered on the event loop, and coroutine
callbacks are scheduled as tasks.
Over 400 lines on purpose: one coroutine per call of the sync classes, kept side by side with them.

Example::

    import asyncio
    from tensor_box import AsyncSandbox

    async def main():
        async with await AsyncSandbox.create("default", timeout_ms=60_000) as sandbox:
            print((await sandbox.commands.run("echo hi")).stdout)

    asyncio.run(main())
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Literal, Optional, Union, overload

from .async_calls import _aiter, _thread
from .command_handle import CommandHandle
from .commands import Commands
from .files import Files
from .models import CommandResult, EntryInfo, LifecycleConfig, ProcessInfo, SandboxInfo, SnapshotInfo, WriteEntry
from .pty import Pty, PtyHandle
from .sandbox import Sandbox
from .template_async import AsyncSandboxPaginator, AsyncSnapshot, AsyncTemplate
from .watch import WatchHandle


class AsyncCommandHandle:
    """A background command (see :class:`tensor_box.CommandHandle`)."""

    def __init__(self, handle: CommandHandle) -> None:
        self._h = handle
        self.pid = handle.pid

    @property
    def stdout(self) -> str:
        return self._h.stdout

    @property
    def stderr(self) -> str:
        return self._h.stderr

    @property
    def exit_code(self) -> Optional[int]:
        return self._h.exit_code

    async def wait(self, timeout_s: Optional[float] = None) -> CommandResult:
        """Waits for the command to end; raises CommandExitException on a non-zero exit."""
        return await _thread(self._h.wait, timeout_s)

    async def kill(self) -> bool:
        return await _thread(self._h.kill)

    async def send_stdin(self, data: Union[str, bytes]) -> None:
        await _thread(self._h.send_stdin, data)

    async def close_stdin(self) -> None:
        await _thread(self._h.close_stdin)

    def disconnect(self) -> None:
        """Stops receiving output; the command keeps running."""
        self._h.disconnect()


class AsyncCommands:
    """Runs and controls processes (see :class:`tensor_box.Commands`)."""

    def __init__(self, commands: Commands) -> None:
        self._c = commands

    # Typed by `background`: a CommandResult in the foreground, a handle with background=True.
    @overload
    async def run(
        self,
        cmd: str,
        background: Literal[False] = False,
        envs: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        on_stdout: Optional[Callable[[str], Any]] = None,
        on_stderr: Optional[Callable[[str], Any]] = None,
        stdin: Optional[bool] = None,
    ) -> CommandResult: ...

    @overload
    async def run(
        self,
        cmd: str,
        background: Literal[True],
        envs: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        on_stdout: Optional[Callable[[str], Any]] = None,
        on_stderr: Optional[Callable[[str], Any]] = None,
        stdin: Optional[bool] = None,
    ) -> AsyncCommandHandle: ...

    @overload
    async def run(
        self,
        cmd: str,
        background: bool = False,
        envs: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        on_stdout: Optional[Callable[[str], Any]] = None,
        on_stderr: Optional[Callable[[str], Any]] = None,
        stdin: Optional[bool] = None,
    ) -> Union[CommandResult, AsyncCommandHandle]: ...

    async def run(
        self,
        cmd: str,
        background: bool = False,
        envs: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        on_stdout: Optional[Callable[[str], Any]] = None,
        on_stderr: Optional[Callable[[str], Any]] = None,
        stdin: Optional[bool] = None,
    ) -> Union[CommandResult, AsyncCommandHandle]:
        """Runs ``cmd``: a CommandResult, or with ``background=True`` an :class:`AsyncCommandHandle` at once."""
        r = await _thread(
            self._c.run,
            cmd,
            background=background,
            envs=envs,
            cwd=cwd,
            user=user,
            timeout_ms=timeout_ms,
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            stdin=stdin,
        )
        return AsyncCommandHandle(r) if isinstance(r, CommandHandle) else r

    async def connect(
        self,
        pid: int,
        on_stdout: Optional[Callable[[str], Any]] = None,
        on_stderr: Optional[Callable[[str], Any]] = None,
        timeout_ms: int = 0,
    ) -> AsyncCommandHandle:
        return AsyncCommandHandle(
            await _thread(self._c.connect, pid, on_stdout=on_stdout, on_stderr=on_stderr, timeout_ms=timeout_ms)
        )

    async def list(self) -> List[ProcessInfo]:
        return await _thread(self._c.list)

    async def kill(self, pid: int) -> bool:
        return await _thread(self._c.kill, pid)

    async def send_stdin(self, pid: int, data: Union[str, bytes]) -> None:
        await _thread(self._c.send_stdin, pid, data)

    async def close_stdin(self, pid: int) -> None:
        await _thread(self._c.close_stdin, pid)


class AsyncWatchHandle:
    """A directory watch; ``await stop()`` ends it."""

    def __init__(self, handle: WatchHandle) -> None:
        self._h = handle

    @property
    def is_running(self) -> bool:
        return self._h.is_running

    async def stop(self) -> None:
        await _thread(self._h.stop)


class AsyncFiles:
    """The sandbox's filesystem (see :class:`tensor_box.Files`)."""

    def __init__(self, files: Files) -> None:
        self._f = files

    async def read(
        self, path: str, format: str = "text", user: Optional[str] = None, request_timeout_ms: Optional[int] = None
    ) -> Any:
        """``format="text"`` → str, ``"bytes"`` → bytes, ``"stream"`` → an async iterator of bytes chunks."""
        r = await _thread(self._f.read, path, format=format, user=user, request_timeout_ms=request_timeout_ms)
        return _aiter(r) if format == "stream" else r

    async def write(
        self,
        path_or_files: Union[str, List[WriteEntry]],
        data: Any = None,
        user: Optional[str] = None,
        request_timeout_ms: Optional[int] = None,
    ) -> Union[EntryInfo, List[EntryInfo]]:
        return await _thread(self._f.write, path_or_files, data, user=user, request_timeout_ms=request_timeout_ms)

    async def list(self, path: str, depth: int = 1, user: Optional[str] = None) -> List[EntryInfo]:
        return await _thread(self._f.list, path, depth=depth, user=user)

    async def make_dir(self, path: str, user: Optional[str] = None) -> bool:
        return await _thread(self._f.make_dir, path, user=user)

    async def exists(self, path: str, user: Optional[str] = None) -> bool:
        return await _thread(self._f.exists, path, user=user)

    async def get_info(self, path: str, user: Optional[str] = None) -> EntryInfo:
        return await _thread(self._f.get_info, path, user=user)

    async def rename(self, old_path: str, new_path: str, user: Optional[str] = None) -> EntryInfo:
        return await _thread(self._f.rename, old_path, new_path, user=user)

    async def remove(self, path: str, user: Optional[str] = None) -> None:
        await _thread(self._f.remove, path, user=user)

    async def watch_dir(
        self,
        path: str,
        on_event: Callable[[Any], Any],
        recursive: bool = False,
        user: Optional[str] = None,
        on_exit: Optional[Callable[[Optional[BaseException]], Any]] = None,
    ) -> AsyncWatchHandle:
        """Watches a directory; ``on_event`` (a function or a coroutine function) runs on the event loop."""
        return AsyncWatchHandle(
            await _thread(self._f.watch_dir, path, on_event=on_event, recursive=recursive, user=user, on_exit=on_exit)
        )


class AsyncPtyHandle:
    """A terminal session (see :class:`tensor_box.PtyHandle`)."""

    def __init__(self, handle: PtyHandle) -> None:
        self._h = handle
        self.pid = handle.pid

    @property
    def is_open(self) -> bool:
        return self._h.is_open

    @property
    def exit_code(self) -> Optional[int]:
        return self._h.exit_code

    async def send_input(self, data: Union[str, bytes]) -> None:
        await _thread(self._h.send_input, data)

    async def resize(self, cols: int, rows: int) -> None:
        await _thread(self._h.resize, cols, rows)

    async def kill(self) -> bool:
        return await _thread(self._h.kill)

    async def wait(self, timeout_s: Optional[float] = None) -> Optional[int]:
        return await _thread(self._h.wait, timeout_s)

    def disconnect(self) -> None:
        self._h.disconnect()


class AsyncPty:
    """Creates terminal sessions (see :class:`tensor_box.Pty`)."""

    def __init__(self, pty: Pty) -> None:
        self._p = pty

    async def create(
        self,
        cols: int = 80,
        rows: int = 24,
        on_data: Optional[Callable[[bytes], Any]] = None,
        envs: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        cmd: Optional[str] = None,
        timeout_ms: int = 0,
    ) -> AsyncPtyHandle:
        """Starts a terminal; ``on_data`` runs on the event loop with each chunk of output."""
        return AsyncPtyHandle(
            await _thread(
                self._p.create,
                cols=cols,
                rows=rows,
                on_data=on_data,
                envs=envs,
                cwd=cwd,
                user=user,
                cmd=cmd,
                timeout_ms=timeout_ms,
            )
        )

    async def connect(
        self,
        pid: int,
        on_data: Optional[Callable[[bytes], Any]] = None,
        user: Optional[str] = None,
        timeout_ms: int = 0,
    ) -> AsyncPtyHandle:
        """Re-attaches to a running terminal by pid (see :meth:`tensor_box.Pty.connect`)."""
        return AsyncPtyHandle(await _thread(self._p.connect, pid, on_data=on_data, user=user, timeout_ms=timeout_ms))


class AsyncSandbox:
    """A sandbox, driven from asyncio. Build one with ``await AsyncSandbox.create(...)`` or ``connect``; lifecycle
    calls exist on the class (by ID: ``await AsyncSandbox.kill(sandbox_id)``) and on an instance."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sync = sandbox
        self.sandbox_id = sandbox.sandbox_id
        self.template_id = sandbox.template_id
        self.sandbox_domain = sandbox.sandbox_domain
        self.connection_config = sandbox.connection_config
        self.files = AsyncFiles(sandbox.files)
        self.commands = AsyncCommands(sandbox.commands)
        self.pty = AsyncPty(sandbox.pty)

    def __repr__(self) -> str:
        return f"AsyncSandbox(sandbox_id={self.sandbox_id!r}, template_id={self.template_id!r})"

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.kill()

    @property
    def sync(self) -> Sandbox:
        """The sync :class:`Sandbox` behind this one."""
        return self._sync

    @classmethod
    async def create(
        cls,
        template: str = "default",
        timeout_ms: Optional[int] = None,
        envs: Optional[Dict[str, str]] = None,
        metadata: Optional[Dict[str, str]] = None,
        lifecycle: Optional[LifecycleConfig] = None,
        secure: bool = True,
        allow_internet_access: bool = True,
        domain: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout_ms: Optional[int] = None,
        headers: Optional[Dict[str, str]] = None,
        network: Optional[Dict[str, Any]] = None,
        volume_mounts: Optional[Dict[str, Any]] = None,
    ) -> "AsyncSandbox":
        """Creates a sandbox (see :meth:`Sandbox.create`)."""
        return cls(
            await _thread(
                Sandbox.create,
                template,
                timeout_ms=timeout_ms,
                envs=envs,
                metadata=metadata,
                lifecycle=lifecycle,
                secure=secure,
                allow_internet_access=allow_internet_access,
                domain=domain,
                api_key=api_key,
                request_timeout_ms=request_timeout_ms,
                headers=headers,
                network=network,
                volume_mounts=volume_mounts,
            )
        )

    @classmethod
    async def connect(
        cls,
        sandbox_id: str,
        timeout_ms: Optional[int] = None,
        domain: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout_ms: Optional[int] = None,
        headers: Optional[Dict[str, str]] = None,
        on_resume: Optional[str] = None,
    ) -> "AsyncSandbox":
        """Connects to a sandbox by ID, resuming it when paused (``on_resume="reboot"``: afresh on its files)."""
        return cls(
            await _thread(
                Sandbox.connect,
                sandbox_id,
                timeout_ms=timeout_ms,
                domain=domain,
                api_key=api_key,
                request_timeout_ms=request_timeout_ms,
                headers=headers,
                on_resume=on_resume,
            )
        )

    @staticmethod
    async def list(
        state: Optional[List[str]] = None,
        metadata: Optional[Dict[str, str]] = None,
        limit: Optional[int] = None,
        **kw: Any,
    ) -> List[SandboxInfo]:
        """As :meth:`tensor_box.Sandbox.list` (``template``, ``started_after``, ``order`` and connection options)."""
        return await _thread(Sandbox.list, state=state, metadata=metadata, limit=limit, **kw)

    @staticmethod
    def paginate(**kw: Any) -> "AsyncSandboxPaginator":
        """As :meth:`tensor_box.Sandbox.paginate`; ``await p.next_items()`` reads one page."""
        return AsyncSandboxPaginator(Sandbox.paginate(**kw))

    async def fork(self, count: Optional[int] = None, timeout_ms: Optional[int] = None) -> List["AsyncSandbox"]:
        """Live copies of this sandbox (see :meth:`tensor_box.Sandbox.fork`)."""
        return [AsyncSandbox(s) for s in await _thread(self._sync.fork, count, timeout_ms)]

    # Lifecycle: ``AsyncSandbox.kill(sandbox_id, **conn)`` by ID, ``await sandbox.kill()`` on an instance.
    class _Dual:
        def __init__(self, name: str) -> None:
            self.name = name

        def __get__(self, obj: Any, owner: type) -> Callable[..., Any]:
            fn = getattr(Sandbox, self.name)  # the by-ID variant
            if obj is None:
                return functools.partial(_thread, fn)
            return functools.partial(_thread, getattr(obj._sync, self.name))

    kill = _Dual("kill")
    get_info = _Dual("get_info")
    set_timeout = _Dual("set_timeout")
    keep_alive = _Dual("keep_alive")
    update_network = _Dual("update_network")
    pause = _Dual("pause")
    get_metrics = _Dual("get_metrics")
    get_logs = _Dual("get_logs")
    commit_as_template = _Dual("commit_as_template")

    async def resume(self, timeout_ms: Optional[int] = None) -> None:
        """Resumes this sandbox (a no-op when it runs), optionally extending its timeout."""
        await _thread(self._sync.resume, timeout_ms)

    async def is_running(self, request_timeout_ms: int = 5000) -> bool:
        return await _thread(self._sync.is_running, request_timeout_ms)

    async def create_snapshot(self, name: Optional[str] = None) -> SnapshotInfo:
        return await _thread(self._sync.create_snapshot, name)

    def disconnect(self) -> None:
        self._sync.disconnect()

    def get_host(self, port: int) -> str:
        return self._sync.get_host(port)

    def download_url(
        self, path: str, user: Optional[str] = None, use_signature_expiration: Optional[int] = None
    ) -> str:
        return self._sync.download_url(path, user, use_signature_expiration)

    def upload_url(self, path: str, user: Optional[str] = None, use_signature_expiration: Optional[int] = None) -> str:
        return self._sync.upload_url(path, user, use_signature_expiration)


__all__ = [
    "AsyncSandbox",
    "AsyncSandboxPaginator",
    "AsyncTemplate",
    "AsyncSnapshot",
    "AsyncCommandHandle",
    "AsyncPtyHandle",
    "AsyncWatchHandle",
]
