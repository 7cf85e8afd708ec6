"""The fluent template definition, shaped like E2B's: ``Template()`` (this class's subclass) starts one, one source
(``from_template`` / ``from_image`` / ``from_base_image`` / ``from_dockerfile``), then steps in order (``copy``,
``run_cmd``, ``set_envs``, ``set_workdir``, ``set_user``, ``apt_install``, ``pip_install``, ``npm_install``) and
``set_start_cmd(cmd, wait_for_port(8000))``. ``Template.build(t, alias=…)`` builds it
(:mod:`tensor_box.template_fluent`).
A bad definition raises :class:`InvalidArgumentException` at the call that makes it, before anything is created.

Example::

    t = Template().from_base_image().pip_install("requests")
    t = t.set_start_cmd("python3 -m http.server 8000", wait_for_port(8000))
    Template.build(t, alias="py-web", on_build_logs=lambda e: print(e.message))
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Dict, List, Optional, Union

from .exceptions import InvalidArgumentException

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USER = re.compile(r"^([a-z_][a-z0-9_-]*[$]?|\d+)$", re.I)


def wait_for_port(port: int) -> str:
    """A ready check that passes once something listens on ``port``."""
    if not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidArgumentException(f"invalid port {port!r}")
    return f"ss -tuln | grep -q ':{port}\\b'"


def wait_for_url(url: str, status_code: int = 200) -> str:
    """A ready check that passes once ``url`` answers with ``status_code``."""
    return f"curl -s -o /dev/null -w '%{{http_code}}' {shlex.quote(url)} | grep -q '^{int(status_code)}$'"


def wait_for_file(path: str) -> str:
    """A ready check that passes once the file exists."""
    return f"[ -f {shlex.quote(path)} ]"


def wait_for_process(name: str) -> str:
    """A ready check that passes once a process of this name runs."""
    return f"pgrep {shlex.quote(name)} > /dev/null"


def wait_for_timeout(timeout_ms: int) -> str:
    """A ready check that passes after ``timeout_ms``."""
    return f"sleep {max(0, timeout_ms) / 1000}"


def _as_list(x: Union[str, List[str], None]) -> List[str]:
    return [] if x is None else [x] if isinstance(x, str) else list(x)


class TemplateBuilder:
    """A template definition; every method adds to it and returns it."""

    def __init__(self, file_context_path: Optional[str] = None) -> None:
        self.file_context_path = file_context_path
        self._source: Dict[str, str] = {}
        self._steps: List[Dict[str, Any]] = []
        self._copies: Dict[int, List[str]] = {}
        self._start: Optional[Dict[str, Optional[str]]] = None
        self._ready: Optional[str] = None
        self._force = False

    def _from(self, key: str, value: str) -> Any:
        if self._source:
            raise InvalidArgumentException(
                "a template has one source: from_template, from_image, from_base_image or from_dockerfile"
            )
        if not value or not value.strip():
            raise InvalidArgumentException(f"{key} needs a value")
        self._source = {key: value}
        return self

    def from_template(self, template: str) -> Any:
        """Builds on a ready template (ID or name)."""
        return self._from("fromTemplate", template)

    def from_image(self, image: str) -> Any:
        """Builds from an image (``Template.list_base_images`` names those the server has)."""
        return self._from("fromImage", image)

    def from_base_image(self) -> Any:
        """Builds on the server's base template (``default``)."""
        return self._from("fromTemplate", "default")

    def from_dockerfile(self, dockerfile_or_path: str) -> Any:
        """Builds from a Dockerfile (its text, or a path to it); its COPY/ADD read ``file_context_path``."""
        return self._from("dockerfile", dockerfile_or_path)

    def copy(
        self, src: Union[str, List[str]], dest: str, user: Optional[str] = None, mode: Union[int, str, None] = None
    ) -> Any:
        """Copies local files or directories (relative to ``file_context_path``) to ``dest`` in the template."""
        srcs = _as_list(src)
        if not srcs or not all(srcs):
            raise InvalidArgumentException("copy needs a source")
        if not dest:
            raise InvalidArgumentException("copy needs a destination")
        m = format(mode, "04o") if isinstance(mode, int) else mode
        if m is not None and not re.fullmatch(r"[0-7]{3,4}", m):
            raise InvalidArgumentException(f"copy mode {mode!r} is not an octal mode")
        to = f"{dest}/" if len(srcs) > 1 and not dest.endswith("/") else dest
        for s in srcs:
            self._copies[len(self._steps)] = [s]
            self._steps.append({"type": "COPY", "args": [s, to, user or "", m or ""]})
        return self

    def run_cmd(self, cmd: Union[str, List[str]], user: Optional[str] = None) -> Any:
        """Runs a command (a list runs in order, ``&&``-joined), as root unless ``user`` or ``set_user`` says."""
        text = " && ".join(_as_list(cmd))
        if not text.strip():
            raise InvalidArgumentException("run_cmd needs a command")
        self._steps.append({"type": "RUN", "args": [text, user] if user else [text]})
        return self

    def set_envs(self, envs: Dict[str, str]) -> Any:
        """Environment variables of later steps and of every sandbox of the template."""
        for k in envs:
            if not _ENV_NAME.match(k):
                raise InvalidArgumentException(f"{k!r} is not a valid environment variable name")
        if envs:
            self._steps.append({"type": "ENV", "args": [x for kv in envs.items() for x in kv]})
        return self

    def set_workdir(self, path: str) -> Any:
        """Working directory of later steps and of the template's sandboxes (absolute)."""
        if not path.startswith("/"):
            raise InvalidArgumentException(f"set_workdir needs an absolute path, not {path!r}")
        self._steps.append({"type": "WORKDIR", "args": [path]})
        return self

    def set_user(self, user: str) -> Any:
        """User of later steps and the template's default user (created when missing)."""
        if not _USER.match(user):
            raise InvalidArgumentException(f"{user!r} is not a user name")
        self._steps.append({"type": "USER", "args": [user]})
        return self

    def apt_install(self, packages: Union[str, List[str]]) -> Any:
        """``apt-get install`` of Debian packages (as root, without recommends)."""
        pkgs = _as_list(packages)
        if not pkgs:
            raise InvalidArgumentException("apt_install needs packages")
        names = " ".join(shlex.quote(p) for p in pkgs)
        return self.run_cmd(
            "apt-get update && DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes "
            + "apt-get install -y --no-install-recommends "
            + names,
            user="root",
        )

    def pip_install(self, packages: Union[str, List[str], None] = None, g: bool = True) -> Any:
        """``pip install`` (system-wide as root; ``g=False``: ``--user``); no packages: ``pip install .``."""
        pkgs = [shlex.quote(p) for p in _as_list(packages)] or ["."]
        return self.run_cmd(" ".join(["pip install", *([] if g else ["--user"]), *pkgs]), user="root" if g else None)

    def npm_install(self, packages: Union[str, List[str], None] = None, g: bool = False) -> Any:
        """``npm install`` (``g=True``: globally, as root); no packages: the current directory's package.json."""
        pkgs = [shlex.quote(p) for p in _as_list(packages)]
        return self.run_cmd(" ".join(["npm install", *(["-g"] if g else []), *pkgs]), user="root" if g else None)

    def set_start_cmd(self, start_cmd: str, ready_cmd: Optional[str] = None) -> Any:
        """The command every sandbox runs; with a ready check (``wait_for_port(8000)``, ``wait_for_url``,
        ``wait_for_file`` or any command) the build captures it running."""
        if not start_cmd or not start_cmd.strip():
            raise InvalidArgumentException("set_start_cmd needs a command")
        self._start = {"startCmd": start_cmd, "readyCmd": ready_cmd}
        return self

    def set_ready_cmd(self, ready_cmd: str) -> Any:
        """The ready check alone (with ``set_start_cmd``'s command or the Dockerfile's CMD)."""
        self._ready = ready_cmd
        return self

    def skip_cache(self) -> Any:
        """Rebuild every step, ignoring cached results."""
        self._force = True
        return self

    def to_build_request(self) -> Dict[str, Any]:
        """The build request this definition makes (COPY steps without their ``filesHash`` yet)."""
        if not self._source:
            raise InvalidArgumentException(
                "a template needs a source: from_template, from_image, from_base_image or from_dockerfile"
            )
        req: Dict[str, Any] = {**self._source, "steps": [{**s, "args": list(s["args"])} for s in self._steps]}
        start = self._start or {}
        if start.get("startCmd"):
            req["startCmd"] = start["startCmd"]
        ready = self._ready or start.get("readyCmd")
        if ready:
            req["readyCmd"] = ready
        if self._force:
            req["force"] = True
        return req

    def _copy_sources(self, index: int) -> Optional[List[str]]:
        return self._copies.get(index)
