"""``AsyncTemplate``, ``AsyncSnapshot`` and ``AsyncSandboxPaginator``: the template, snapshot and listing calls as
coroutines (see :mod:`tensor_box.async_calls`). ``AsyncTemplate()`` starts a fluent definition like ``Template()``."""

from __future__ import annotations

from typing import List, Optional

from .async_calls import _async_static, _thread
from .models import SandboxInfo
from .sandbox_list import SandboxPaginator
from .snapshot import Snapshot
from .template import Template
from .template_builder import TemplateBuilder
from .template_fluent import build_template


class AsyncSandboxPaginator:
    """Pages of a sandbox listing, as coroutines (see :class:`tensor_box.SandboxPaginator`)."""

    def __init__(self, p: SandboxPaginator) -> None:
        self._p = p

    @property
    def has_next(self) -> bool:
        return self._p.has_next

    @property
    def next_token(self) -> Optional[str]:
        return self._p.next_token

    async def next_items(self) -> List[SandboxInfo]:
        items: List[SandboxInfo] = await _thread(self._p.next_items)
        return items


class AsyncTemplate(TemplateBuilder):
    """``AsyncTemplate()`` starts a fluent definition; ``await AsyncTemplate.build(t, alias=…)`` builds it
    (``on_build_logs`` runs on the event loop); :class:`tensor_box.Template`'s calls as coroutines."""

    build = _async_static(build_template)
    upload_files = _async_static(Template.upload_files)

    list_base_images = _async_static(Template.list_base_images)
    list = _async_static(Template.list)
    get = _async_static(Template.get)
    exists = _async_static(Template.exists)
    delete = _async_static(Template.delete)
    create = _async_static(Template.create)
    start_build = _async_static(Template.start_build)
    get_build_status = _async_static(Template.get_build_status)
    get_build_logs = _async_static(Template.get_build_logs)
    wait_for_build = _async_static(Template.wait_for_build)


class AsyncSnapshot:
    """:class:`tensor_box.Snapshot`'s calls as coroutines."""

    create = _async_static(Snapshot.create)
    list = _async_static(Snapshot.list)
    delete = _async_static(Snapshot.delete)
