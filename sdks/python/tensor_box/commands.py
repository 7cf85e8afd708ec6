"""``sandbox.commands``: run shell commands in the sandbox through envd's process service. Foreground runs return
their result (or raise CommandExitException on a non-zero exit); background runs return a CommandHandle."""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Union, overload

from .command_handle import CommandHandle, OutputHandler
from .envd.target import DEFAULT_USER, KEEPALIVE_HEADER, EnvdTarget, user_header
from .exceptions import NotFoundException, SandboxException
from .models import CommandResult, ProcessInfo, b64

DEFAULT_FOREGROUND_TIMEOUT_MS = 60_000
PROCESS = "process.Process"


def _to_bytes(data: Union[str, bytes]) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


class Commands:
    """Runs and controls processes in one sandbox."""

    def __init__(self, target: EnvdTarget) -> None:
        self._target = target

    # Typed by `background`: a CommandResult in the foreground, a handle with background=True.
    @overload
    def run(
        self,
        cmd: str,
        background: Literal[False] = False,
        envs: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        on_stdout: Optional[OutputHandler] = None,
        on_stderr: Optional[OutputHandler] = None,
        stdin: Optional[bool] = None,
    ) -> CommandResult: ...

    @overload
    def run(
        self,
        cmd: str,
        background: Literal[True],
        envs: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        on_stdout: Optional[OutputHandler] = None,
        on_stderr: Optional[OutputHandler] = None,
        stdin: Optional[bool] = None,
    ) -> CommandHandle: ...

    @overload
    def run(
        self,
        cmd: str,
        background: bool = False,
        envs: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        on_stdout: Optional[OutputHandler] = None,
        on_stderr: Optional[OutputHandler] = None,
        stdin: Optional[bool] = None,
    ) -> Union[CommandResult, CommandHandle]: ...

    def run(
        self,
        cmd: str,
        background: bool = False,
        envs: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        timeout_ms: Optional[int] = None,
        on_stdout: Optional[OutputHandler] = None,
        on_stderr: Optional[OutputHandler] = None,
        stdin: Optional[bool] = None,
    ) -> Union[CommandResult, CommandHandle]:
        """Runs ``cmd`` with ``/bin/bash -l -c``.

        Args:
            background: return a :class:`CommandHandle` at once instead of waiting.
            envs, cwd, user: environment additions, working directory, user (default ``user``; ``root`` allowed).
            timeout_ms: kill the command after this long (default 60 000 in the foreground, none in the
                background; 0 = none).
            on_stdout, on_stderr: called with each chunk of output as it arrives.
            stdin: keep stdin open so that ``send_stdin`` works (default: only for background commands).

        Example::

            r = sandbox.commands.run("echo hello")   # CommandResult(exit_code=0, stdout='hello\\n', stderr='')
            h = sandbox.commands.run("sleep 100", background=True); h.kill()

        Raises:
            CommandExitException: (foreground) the exit code is not 0.
            TimeoutException: (foreground) the timeout passed.
        """
        if timeout_ms is None:
            timeout_ms = 0 if background else DEFAULT_FOREGROUND_TIMEOUT_MS
        if timeout_ms < 0:
            raise ValueError("timeout_ms must not be negative")
        process: Dict[str, Any] = {"cmd": "/bin/bash", "args": ["-l", "-c", cmd], "envs": envs or {}}
        if cwd:
            process["cwd"] = cwd
        request = {"process": process, "stdin": bool(background) if stdin is None else stdin}
        handle = self._start(request, user or DEFAULT_USER, timeout_ms, on_stdout, on_stderr, f"run {cmd!r}")
        return handle if background else handle.wait()

    def _start(
        self,
        request: Dict[str, Any],
        user: str,
        timeout_ms: int,
        on_stdout: Optional[OutputHandler],
        on_stderr: Optional[OutputHandler],
        context: str,
    ) -> CommandHandle:
        stream = self._target.rpc.stream(
            f"{PROCESS}/Start",
            request,
            headers={**user_header(user), **KEEPALIVE_HEADER},
            timeout_ms=timeout_ms or None,
            context=context,
        )
        events = iter(stream)
        pid = read_start_pid(events, stream, context)
        return CommandHandle(pid, stream, events, self, on_stdout, on_stderr, timeout_ms)

    def connect(
        self,
        pid: int,
        on_stdout: Optional[OutputHandler] = None,
        on_stderr: Optional[OutputHandler] = None,
        timeout_ms: int = 0,
    ) -> CommandHandle:
        """Re-attaches to a running command by pid (output from now on)."""
        context = f"connect to process {pid}"
        stream = self._target.rpc.stream(
            f"{PROCESS}/Connect",
            {"process": {"pid": pid}},
            headers=KEEPALIVE_HEADER,
            timeout_ms=timeout_ms or None,
            context=context,
        )
        events = iter(stream)
        read_start_pid(events, stream, context)
        return CommandHandle(pid, stream, events, self, on_stdout, on_stderr, timeout_ms)

    def list(self) -> List[ProcessInfo]:
        """Running processes started through the agent."""
        r = self._target.rpc.unary(f"{PROCESS}/List", {}, context="list processes")
        return [ProcessInfo.from_envd(p) for p in r.get("processes") or []]

    def kill(self, pid: int) -> bool:
        """Kills a process (SIGKILL). Returns False when it was not running."""
        try:
            self._target.rpc.unary(
                f"{PROCESS}/SendSignal",
                {"process": {"pid": pid}, "signal": "SIGNAL_SIGKILL"},
                context=f"kill process {pid}",
            )
            return True
        except NotFoundException:
            return False

    def send_stdin(self, pid: int, data: Union[str, bytes]) -> None:
        """Writes to a process' stdin (it must have been started with stdin open)."""
        self._target.rpc.unary(
            f"{PROCESS}/SendInput",
            {"process": {"pid": pid}, "input": {"stdin": b64(_to_bytes(data))}},
            context=f"stdin of process {pid}",
        )

    def close_stdin(self, pid: int) -> None:
        """Closes a process' stdin (EOF)."""
        self._target.rpc.unary(
            f"{PROCESS}/CloseStdin", {"process": {"pid": pid}}, context=f"close stdin of process {pid}"
        )


def read_start_pid(events: Any, stream: Any, context: str) -> int:
    """Reads up to the ``start`` event (skipping keepalives) and returns its pid; closes the stream on failure."""
    try:
        for msg in events:
            ev = msg.get("event") or {}
            if "start" in ev:
                return int((ev["start"] or {}).get("pid", 0))
            if "keepalive" in ev:
                continue
            break
        raise SandboxException(f"{context}: the agent did not report the process start")
    except BaseException:
        stream.close()
        raise
