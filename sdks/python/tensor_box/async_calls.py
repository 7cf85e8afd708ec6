"""The asyncio bridge of the async API: each coroutine runs the sync client's call in a worker thread
(``asyncio.to_thread``), so both share one wire implementation and one error mapping; callbacks that reader threads
call (``on_stdout``, ``on_data``, ``on_log``, …) are delivered on the event loop, and coroutine callbacks are
scheduled as tasks."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, AsyncIterator, Callable, Dict, Iterator, Optional, Set

_tasks: Set["asyncio.Task[Any]"] = set()  # coroutine callbacks in flight (asyncio keeps only weak references)


def _on_loop(cb: Optional[Callable[..., Any]]) -> Optional[Callable[..., None]]:
    """Wraps a callback that reader threads call so that it runs on the current event loop instead."""
    if cb is None:
        return None
    loop = asyncio.get_running_loop()

    def invoke(*args: Any) -> None:
        result = cb(*args)
        if asyncio.iscoroutine(result):
            task = loop.create_task(result)
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)

    def call(*args: Any) -> None:
        try:
            loop.call_soon_threadsafe(invoke, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    return call


def _callbacks_on_loop(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    return {k: _on_loop(v) if k.startswith("on_") and callable(v) else v for k, v in kwargs.items()}


async def _thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **_callbacks_on_loop(kwargs))


async def _aiter(it: Iterator[bytes]) -> AsyncIterator[bytes]:
    done = object()
    while True:
        chunk = await asyncio.to_thread(next, it, done)
        if chunk is done:
            return
        yield chunk  # type: ignore[misc]


def _async_static(fn: Callable[..., Any]) -> Any:
    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await _thread(fn, *args, **kwargs)

    return staticmethod(call)
