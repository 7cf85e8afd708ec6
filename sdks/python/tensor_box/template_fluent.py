"""``Template.build``: turns a :class:`TemplateBuilder` definition into the two-call build API — registers the
template under ``alias``, uploads each ``copy`` step's files as a tar (owners and mtimes zeroed, names sorted, so the
same files give the same hash and the server skips uploads it has), a Dockerfile's context likewise, starts the build
and waits until it is ready (:class:`BuildException` names the failing step)."""

from __future__ import annotations

import fnmatch
import io
import os
import posixpath
import re
import tarfile
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from .exceptions import InvalidArgumentException
from .template_builder import TemplateBuilder
from .template_models import BuildLogEntry

_GLOB = set("*?[")


@dataclass
class TemplateBuildInfo:
    """A finished build of ``Template.build``."""

    template_id: str
    build_id: str
    alias: str
    status: str


def pack_tar(root: str, paths: List[str]) -> bytes:
    """A deterministic tar of ``paths`` (relative to ``root``; directories recursively; symlinks kept as links)."""
    base = os.path.abspath(root)
    names: List[str] = []
    for p in paths:
        rel = posixpath.normpath(re.sub(r"^(\./)+", "", p.replace("\\", "/")))
        if rel.startswith("..") or posixpath.isabs(rel):
            raise InvalidArgumentException(f"{p!r} is outside the file context {base}")
        top = base if rel == "." else os.path.join(base, rel)
        if not os.path.lexists(top):
            raise InvalidArgumentException(f"copy source {p!r} does not exist in {base}")
        if rel != ".":
            names.append(rel)
        if os.path.isdir(top) and not os.path.islink(top):
            for d, dirs, files in os.walk(top):
                for n in dirs + files:
                    names.append(os.path.relpath(os.path.join(d, n), base).replace(os.sep, "/"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(set(names)):
            info = tar.gettarinfo(os.path.join(base, rel), arcname=rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isreg():
                with open(os.path.join(base, rel), "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def _expand(root: str, src: str) -> List[str]:
    if not _GLOB & set(src):
        return [src]
    d, pattern = posixpath.split(src)
    if _GLOB & set(d):
        raise InvalidArgumentException(f"copy source {src!r}: wildcards only in the last path segment")
    try:
        entries = sorted(os.listdir(os.path.join(root, d)))
    except OSError:
        return []
    return [posixpath.join(d, n) for n in entries if fnmatch.fnmatchcase(n, pattern)]


def _dockerfile_text(d: str) -> str:
    if "\n" not in d and os.path.isfile(d):
        with open(d, encoding="utf-8") as f:
            return f.read()
    return d


def build_template(
    template: TemplateBuilder,
    alias: str,
    cpu_count: Optional[int] = None,
    memory_mb: Optional[int] = None,
    disk_gb: Optional[int] = None,
    isolation: Optional[str] = None,
    skip_cache: bool = False,
    on_build_logs: Optional[Callable[[BuildLogEntry], Any]] = None,
    timeout_ms: Optional[int] = None,
    **conn: Any,
) -> TemplateBuildInfo:
    """Builds a ``Template()`` definition as ``alias`` and waits until it is ready."""
    from .template import Template

    if not isinstance(template, TemplateBuilder):
        raise InvalidArgumentException("Template.build needs a Template() definition")
    if not alias:
        raise InvalidArgumentException("Template.build needs an alias")
    req = template.to_build_request()
    root = template.file_context_path or os.getcwd()
    dockerfile = _dockerfile_text(req["dockerfile"]) if "dockerfile" in req else None
    # Every tar is made before the template is registered, so a bad copy source leaves nothing behind.
    tars = {}
    for i in range(len(req["steps"])):
        srcs = template._copy_sources(i)
        if srcs is None:
            continue
        paths = [p for s in srcs for p in _expand(root, s)]
        if not paths:
            raise InvalidArgumentException(f"copy source {', '.join(srcs)!r} matches no file in {root}")
        tars[i] = pack_tar(root, paths)
    has_copy = dockerfile and any(
        line.strip().upper().startswith(("COPY ", "ADD ")) for line in dockerfile.splitlines()
    )
    context = pack_tar(root, ["."]) if has_copy else None
    created = Template.create(
        alias, cpu_count=cpu_count, memory_mb=memory_mb, disk_gb=disk_gb, isolation=isolation, **conn
    )
    tid, bid = created.template_id, created.build_id
    for i, tar in tars.items():
        req["steps"][i]["filesHash"] = Template.upload_files(tid, tar, **conn)["hash"]
    files_hash = Template.upload_files(tid, context, **conn)["hash"] if context is not None else None
    Template.start_build(
        tid,
        bid,
        from_template=req.get("fromTemplate"),
        from_image=req.get("fromImage"),
        dockerfile=dockerfile,
        files_hash=files_hash,
        steps=req["steps"],
        start_cmd=req.get("startCmd"),
        ready_cmd=req.get("readyCmd"),
        force=skip_cache or bool(req.get("force")),
        **conn,
    )
    done = Template.wait_for_build(tid, bid, timeout_ms=timeout_ms, on_log=on_build_logs, **conn)
    return TemplateBuildInfo(tid, bid, alias, done.status)
