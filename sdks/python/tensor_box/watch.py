"""A running directory watch: envd's ``filesystem.Filesystem/WatchDir`` stream read by a background thread that
calls the user's callback for each event."""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

from .envd.connect import ServerStream
from .exceptions import SandboxException
from .models import WatchEvent


class WatchHandle:
    """Returned by ``files.watch_dir``; :meth:`stop` ends the watch."""

    def __init__(self, stream: ServerStream, thread: threading.Thread) -> None:
        self._stream = stream
        self._thread = thread

    @classmethod
    def start(
        cls,
        stream: ServerStream,
        path: str,
        on_event: Callable[[WatchEvent], Any],
        on_exit: Optional[Callable[[Optional[BaseException]], Any]],
        context: str,
    ) -> "WatchHandle":
        events = iter(stream)
        # The first message confirms the watch is in place: events after watch_dir returns are not missed.
        try:
            first = next(events, None)
            if not first or "start" not in first.get("event", first):
                raise SandboxException(f"{context}: the agent did not start the watch")
        except BaseException:
            stream.close()
            raise

        def run() -> None:
            err: Optional[BaseException] = None
            try:
                for msg in events:
                    ev = msg.get("event") or msg
                    if "filesystem" in ev:
                        on_event(WatchEvent.from_envd(ev["filesystem"] or {}, path))
            except BaseException as e:  # noqa: BLE001 - reported through on_exit
                err = None if stream.closed else e
            finally:
                stream.close()
                if on_exit:
                    on_exit(err)

        thread = threading.Thread(target=run, name=f"tensor-box-watch-{path}", daemon=True)
        thread.start()
        return cls(stream, thread)

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ends the watch and waits (up to ``timeout_s``) for its thread to finish."""
        self._stream.close()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)
