"""``sandbox.pty``: interactive terminals on a pseudo-terminal in the sandbox (envd's process service with a ``pty``
field), for full-screen programs. Output arrives through ``on_data`` from a reader thread; the handle sends
keystrokes, resizes and kills.

Example::

    pty = sandbox.pty.create(cols=120, rows=40, on_data=lambda b: print(b.decode(), end=""))
    pty.send_input("ls -la\\n"); pty.resize(cols=200, rows=50); pty.kill()
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Optional, Union

from .commands import PROCESS, read_start_pid
from .envd.connect import ServerStream
from .envd.target import DEFAULT_USER, KEEPALIVE_HEADER, EnvdTarget, user_header
from .exceptions import NotFoundException, SandboxException, TimeoutException
from .models import b64, unb64

DataHandler = Callable[[bytes], Any]


class PtyHandle:
    """A terminal session. ``pid`` is its process; ``is_open`` turns False when its program ends."""

    def __init__(
        self,
        pid: int,
        target: EnvdTarget,
        headers: Dict[str, str],
        stream: ServerStream,
        events: Any,
        on_data: DataHandler,
    ):
        self.pid = pid
        self._target = target
        self._headers = headers
        self._stream = stream
        self._exit_code: Optional[int] = None
        self._error: Optional[BaseException] = None
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._consume, args=(events, on_data), name=f"tensor-box-pty-{pid}", daemon=True
        )
        self._thread.start()

    def _consume(self, events: Any, on_data: DataHandler) -> None:
        try:
            for msg in events:
                ev = msg.get("event") or {}
                if "data" in ev and "pty" in (ev["data"] or {}):
                    on_data(unb64(ev["data"]["pty"]))
                elif "end" in ev:
                    self._exit_code = int((ev["end"] or {}).get("exitCode", 0))
                    return
        except BaseException as e:  # noqa: BLE001 - reported by wait()
            self._error = e
        finally:
            self._done.set()
            self._stream.close()

    @property
    def is_open(self) -> bool:
        """Whether the terminal's program is still running (as far as this handle has seen)."""
        return not self._done.is_set()

    @property
    def exit_code(self) -> Optional[int]:
        return self._exit_code

    def wait(self, timeout_s: Optional[float] = None) -> Optional[int]:
        """Waits for the terminal's program to end; returns its exit code (None when the stream was cut)."""
        if not self._done.wait(timeout_s):
            raise TimeoutException(f"terminal {self.pid} still open after {timeout_s} s")
        if self._error is not None and not self._stream.closed:
            raise self._error if isinstance(self._error, SandboxException) else SandboxException(str(self._error))
        return self._exit_code

    def send_input(self, data: Union[str, bytes]) -> None:
        """Sends keystrokes (a string or raw bytes)."""
        raw = data.encode() if isinstance(data, str) else bytes(data)
        self._target.rpc.unary(
            f"{PROCESS}/SendInput",
            {"process": {"pid": self.pid}, "input": {"pty": b64(raw)}},
            headers=self._headers,
            context="pty input",
        )

    def resize(self, cols: int, rows: int) -> None:
        """Changes the terminal size (the program gets SIGWINCH)."""
        self._target.rpc.unary(
            f"{PROCESS}/Update",
            {"process": {"pid": self.pid}, "pty": {"size": {"cols": cols, "rows": rows}}},
            headers=self._headers,
            context="pty resize",
        )

    def kill(self) -> bool:
        """Ends the session (SIGKILL); False when it had already ended."""
        try:
            self._target.rpc.unary(
                f"{PROCESS}/SendSignal",
                {"process": {"pid": self.pid}, "signal": "SIGNAL_SIGKILL"},
                headers=self._headers,
                context="pty kill",
            )
        except NotFoundException:
            return False
        # The end event follows the signal; waiting briefly makes is_open False on return.
        self._done.wait(5)
        return True

    def disconnect(self) -> None:
        """Stops receiving output; the terminal keeps running."""
        self._stream.close()


class Pty:
    """Creates terminal sessions in one sandbox."""

    def __init__(self, target: EnvdTarget) -> None:
        self._target = target

    def create(
        self,
        cols: int = 80,
        rows: int = 24,
        on_data: Optional[DataHandler] = None,
        envs: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        cmd: Optional[str] = None,
        timeout_ms: int = 0,
    ) -> PtyHandle:
        """Starts a terminal running ``cmd`` (default: an interactive login bash) at ``cols`` x ``rows``.

        ``timeout_ms`` ends the session after that long (default never).
        """
        headers = {**user_header(user or DEFAULT_USER), **KEEPALIVE_HEADER}
        process: Dict[str, Any] = {
            "cmd": cmd or "/bin/bash",
            "args": [] if cmd else ["-i", "-l"],
            "envs": {"TERM": "xterm-256color", **(envs or {})},
        }
        if cwd:
            process["cwd"] = cwd
        request = {"process": process, "pty": {"size": {"cols": cols, "rows": rows}}}
        stream = self._target.rpc.stream(
            f"{PROCESS}/Start", request, headers=headers, timeout_ms=timeout_ms or None, context="create pty"
        )
        events = iter(stream)
        pid = read_start_pid(events, stream, "create pty")
        return PtyHandle(pid, self._target, headers, stream, events, on_data or (lambda _b: None))

    def connect(
        self, pid: int, on_data: Optional[DataHandler] = None, user: Optional[str] = None, timeout_ms: int = 0
    ) -> PtyHandle:
        """Re-attaches to a running terminal by its pid (envd's process Connect): output from now on goes to
        ``on_data``; the handle sends input, resizes and kills as ``create``'s does. ``timeout_ms`` stops listening
        after that long (the terminal keeps running).

        Example::

            pty.disconnect()
            again = sandbox.pty.connect(pty.pid, on_data=lambda b: print(b.decode(), end=""))

        Raises:
            NotFoundException: no such process runs.
        """
        context = f"connect to terminal {pid}"
        headers = {**user_header(user or DEFAULT_USER), **KEEPALIVE_HEADER}
        stream = self._target.rpc.stream(
            f"{PROCESS}/Connect",
            {"process": {"pid": pid}},
            headers=headers,
            timeout_ms=timeout_ms or None,
            context=context,
        )
        events = iter(stream)
        read_start_pid(events, stream, context)
        return PtyHandle(pid, self._target, headers, stream, events, on_data or (lambda _b: None))
