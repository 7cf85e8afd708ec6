"""A running command: a background thread reads its event stream (output as it arrives, then its exit) while the
handle offers ``wait``/``kill``/``send_stdin``. ``disconnect`` stops reading and leaves the process running."""

from __future__ import annotations

import codecs
import threading
from typing import Any, Callable, Dict, Iterator, Optional

from .envd.connect import ServerStream
from .exceptions import CommandExitException, SandboxException, TimeoutException
from .models import CommandResult, unb64

OutputHandler = Callable[[str], Any]


class CommandHandle:
    """A command started in the sandbox (``commands.run(..., background=True)``).

    Attributes:
        pid: the process ID in the sandbox.
    """

    def __init__(
        self,
        pid: int,
        stream: ServerStream,
        events: Iterator[Dict[str, Any]],
        controls: Any,
        on_stdout: Optional[OutputHandler] = None,
        on_stderr: Optional[OutputHandler] = None,
        timeout_ms: int = 0,
    ) -> None:
        self.pid = pid
        self._stream = stream
        self._controls = controls
        self._stdout: list = []
        self._stderr: list = []
        self._result: Optional[CommandResult] = None
        self._error: Optional[BaseException] = None
        self._timeout_ms = timeout_ms
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._consume, args=(events, on_stdout, on_stderr), name=f"tensor-box-cmd-{pid}", daemon=True
        )
        self._thread.start()

    @property
    def stdout(self) -> str:
        """Output so far."""
        return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    @property
    def exit_code(self) -> Optional[int]:
        """The exit code once the command has ended."""
        return self._result.exit_code if self._result else None

    def _consume(
        self, events: Iterator[Dict[str, Any]], on_stdout: Optional[OutputHandler], on_stderr: Optional[OutputHandler]
    ) -> None:
        # Incremental decoders: a UTF-8 character may be split across two chunks.
        out_dec = codecs.getincrementaldecoder("utf-8")("replace")
        err_dec = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            for msg in events:
                ev = msg.get("event") or {}
                if "data" in ev:
                    data = ev["data"] or {}
                    if "stdout" in data:
                        s = out_dec.decode(unb64(data["stdout"]))
                        self._stdout.append(s)
                        if on_stdout and s:
                            on_stdout(s)
                    elif "stderr" in data:
                        s = err_dec.decode(unb64(data["stderr"]))
                        self._stderr.append(s)
                        if on_stderr and s:
                            on_stderr(s)
                elif "end" in ev:
                    end = ev["end"] or {}
                    self._result = CommandResult(
                        int(end.get("exitCode", 0)), self.stdout, self.stderr, end.get("error") or None
                    )
                    return
            if not self._stream.closed:
                self._error = SandboxException("the command stream ended without an exit status")
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits
            self._error = e
        finally:
            self._done.set()
            self._stream.close()

    def wait(self, timeout_s: Optional[float] = None) -> CommandResult:
        """Waits for the command to end and returns its result.

        Raises:
            CommandExitException: the exit code is not 0 (output attached).
            TimeoutException: the command's timeout (or ``timeout_s`` of this wait) passed first.
        """
        limit = timeout_s
        if limit is None and self._timeout_ms:
            # The agent enforces the deadline; this bound only protects against one that does not answer.
            limit = self._timeout_ms / 1000 + 10
        if not self._done.wait(limit):
            if self._timeout_ms and timeout_s is None:
                self._stream.close()
                raise TimeoutException(f"command {self.pid} did not end within {self._timeout_ms} ms")
            raise TimeoutException(f"command {self.pid} still running after {timeout_s} s")
        if self._error is not None:
            if isinstance(self._error, SandboxException):
                raise self._error
            raise SandboxException(f"reading the output of command {self.pid} failed: {self._error}") from self._error
        if self._result is None:
            raise SandboxException(f"stopped reading command {self.pid} (disconnected)")
        if self._result.exit_code != 0:
            r = self._result
            raise CommandExitException(r.exit_code, r.stdout, r.stderr, r.error)
        return self._result

    def kill(self) -> bool:
        """Kills the command (SIGKILL). Returns False when it had already ended."""
        return self._controls.kill(self.pid)

    def send_stdin(self, data: "str | bytes") -> None:
        """Writes to the command's stdin."""
        self._controls.send_stdin(self.pid, data)

    def close_stdin(self) -> None:
        """Closes the command's stdin (EOF)."""
        self._controls.close_stdin(self.pid)

    def disconnect(self) -> None:
        """Stops receiving output; the command keeps running in the sandbox (``commands.connect(pid)`` re-attaches)."""
        self._stream.close()
