"""``dualmethod``: one name that is a static call on the class and an instance call on an instance, as the seeds'
API has it (``Sandbox.kill(sandbox_id)`` and ``sandbox.kill()``)."""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional


class dualmethod:  # noqa: N801 - used like @staticmethod
    """Decorates the instance method; ``.classmethod`` registers the variant used when called on the class."""

    def __init__(self, instance_fn: Callable[..., Any]) -> None:
        self._instance_fn = instance_fn
        self._class_fn: Optional[Callable[..., Any]] = None
        functools.update_wrapper(self, instance_fn)  # type: ignore[arg-type]

    def classmethod(self, fn: Callable[..., Any]) -> "dualmethod":
        self._class_fn = fn
        return self

    def __get__(self, obj: Any, owner: type) -> Callable[..., Any]:
        if obj is None:
            if self._class_fn is None:
                raise AttributeError(f"{self._instance_fn.__name__} needs an instance")
            return functools.partial(self._class_fn, owner)
        return functools.partial(self._instance_fn, obj)
