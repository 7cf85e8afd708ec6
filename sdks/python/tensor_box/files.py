"""``sandbox.files``: the sandbox's filesystem. Reads and writes go over envd's HTTP ``/files`` route (streamed);
metadata operations and directory watches over its Connect filesystem service."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Union

import httpx

from .envd.target import DEFAULT_USER, KEEPALIVE_HEADER, EnvdTarget, user_header
from .exceptions import ConflictException, NotFoundException, SandboxException, TimeoutException, from_http
from .models import EntryInfo, WatchEvent, WriteData, WriteEntry
from .watch import WatchHandle

FS = "filesystem.Filesystem"


def _error(res: httpx.Response, context: str) -> SandboxException:
    try:
        body: Any = res.json()
    except ValueError:
        body = res.text
    return from_http(res.status_code, body, context)


def _body(data: Any) -> Any:
    """What httpx sends for a write: bytes as they are, text as UTF-8, file objects and iterables streamed."""
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    return data


class Files:
    """Files and directories of one sandbox. Relative paths resolve against the user's home; ``user`` defaults to
    ``user``."""

    def __init__(self, target: EnvdTarget) -> None:
        self._target = target

    def _params(self, path: Optional[str], user: Optional[str]) -> Dict[str, str]:
        p = {"username": user or DEFAULT_USER}
        if path is not None:
            p["path"] = path
        return p

    def _rpc(
        self, method: str, request: Dict[str, Any], user: Optional[str], timeout_ms: Optional[int], context: str
    ) -> Dict[str, Any]:
        return self._target.rpc.unary(
            f"{FS}/{method}", request, headers=user_header(user or DEFAULT_USER), timeout_ms=timeout_ms, context=context
        )

    def read(
        self, path: str, format: str = "text", user: Optional[str] = None, request_timeout_ms: Optional[int] = None
    ) -> Any:
        """Reads a file: ``format="text"`` (default) → str, ``"bytes"`` → bytes, ``"stream"`` → an iterator of
        bytes chunks (close it, or read it to the end, to free the connection).

        Raises:
            NotFoundException: there is no such file.
        """
        if format not in ("text", "bytes", "stream"):
            raise ValueError("format must be 'text', 'bytes' or 'stream'")
        url = f"{self._target.api_url}/files"
        headers = {**self._target.headers(), "Accept-Encoding": "identity"}  # no gzip of file bytes on the wire
        context = f"read {path}"
        timeout = request_timeout_ms / 1000 if request_timeout_ms else 60.0
        try:
            if format == "stream":
                cm = self._target.http.stream(
                    "GET",
                    url,
                    params=self._params(path, user),
                    headers=headers,
                    timeout=httpx.Timeout(timeout, read=None),
                )
                res = cm.__enter__()
                if not res.is_success:
                    res.read()
                    cm.__exit__(None, None, None)
                    raise _error(res, context)
                return _chunks(cm, res)
            res = self._target.http.get(url, params=self._params(path, user), headers=headers, timeout=timeout)
        except httpx.TimeoutException as e:
            raise TimeoutException(f"{context}: request timed out") from e
        except httpx.HTTPError as e:
            raise TimeoutException(f"{context}: sandbox is not reachable: {e}") from e
        if not res.is_success:
            raise _error(res, context)
        return res.content if format == "bytes" else res.content.decode("utf-8", "replace")

    def write(
        self,
        path_or_files: Union[str, List[WriteEntry]],
        data: Union[WriteData, Iterable[bytes], Any, None] = None,
        user: Optional[str] = None,
        request_timeout_ms: Optional[int] = None,
    ) -> Union[EntryInfo, List[EntryInfo]]:
        """Writes one file (``write(path, data)`` → EntryInfo) or many (``write([WriteEntry(path, data), ...])`` →
        list of EntryInfo). Data: str, bytes, a binary file object or an iterable of bytes. Parent directories are
        created; existing files are overwritten.

        Example::

            sandbox.files.write("/tmp/hello.txt", "Hello World!")
            sandbox.files.write([WriteEntry("/tmp/a.txt", "aaa"), WriteEntry("/tmp/b.txt", b"\\x00\\x01")])
        """
        url = f"{self._target.api_url}/files"
        timeout = request_timeout_ms / 1000 if request_timeout_ms else 60.0
        if isinstance(path_or_files, str):
            if data is None:
                raise ValueError("data is required when writing a single file")
            path = path_or_files
            headers = {**self._target.headers(), "Content-Type": "application/octet-stream"}
            self._post(url, self._params(path, user), headers, timeout, f"write {path}", content=_body(data))
            return self.get_info(path, user=user)
        files = list(path_or_files)
        if not files:
            return []
        # Multipart: one `file` part per entry, its filename being the destination path (envd's convention).
        parts = [
            (
                "file",
                (f.path, _body(f.data) if not hasattr(f.data, "read") else f.data.read(), "application/octet-stream"),
            )
            for f in files
        ]
        self._post(url, self._params(None, user), self._target.headers(), timeout, "write files", files=parts)
        return [self.get_info(f.path, user=user) for f in files]

    def _post(
        self, url: str, params: Dict[str, str], headers: Dict[str, str], timeout: float, context: str, **body: Any
    ) -> None:
        try:
            res = self._target.http.post(url, params=params, headers=headers, timeout=timeout, **body)
        except httpx.TimeoutException as e:
            raise TimeoutException(f"{context}: request timed out") from e
        except httpx.HTTPError as e:
            raise TimeoutException(f"{context}: sandbox is not reachable: {e}") from e
        if not res.is_success:
            raise _error(res, context)

    def list(
        self, path: str, depth: int = 1, user: Optional[str] = None, request_timeout_ms: Optional[int] = None
    ) -> List[EntryInfo]:
        """Entries of a directory (``depth`` levels deep, default 1)."""
        r = self._rpc("ListDir", {"path": path, "depth": depth}, user, request_timeout_ms, f"list {path}")
        return [EntryInfo.from_envd(e) for e in r.get("entries") or []]

    def make_dir(self, path: str, user: Optional[str] = None, request_timeout_ms: Optional[int] = None) -> bool:
        """Creates a directory and its parents; False when it already existed."""
        try:
            self._rpc("MakeDir", {"path": path}, user, request_timeout_ms, f"make dir {path}")
            return True
        except ConflictException:
            return False

    def exists(self, path: str, user: Optional[str] = None, request_timeout_ms: Optional[int] = None) -> bool:
        """Whether a file or directory exists at ``path``."""
        try:
            self.get_info(path, user=user, request_timeout_ms=request_timeout_ms)
            return True
        except NotFoundException:
            return False

    def get_info(self, path: str, user: Optional[str] = None, request_timeout_ms: Optional[int] = None) -> EntryInfo:
        """Metadata of a file or directory (no symlink following for the entry itself)."""
        r = self._rpc("Stat", {"path": path}, user, request_timeout_ms, f"stat {path}")
        return EntryInfo.from_envd(r.get("entry") or {})

    def rename(
        self, old_path: str, new_path: str, user: Optional[str] = None, request_timeout_ms: Optional[int] = None
    ) -> EntryInfo:
        """Renames or moves a file or directory; returns the moved entry."""
        r = self._rpc(
            "Move", {"source": old_path, "destination": new_path}, user, request_timeout_ms, f"rename {old_path}"
        )
        return EntryInfo.from_envd(r.get("entry") or {})

    def remove(self, path: str, user: Optional[str] = None, request_timeout_ms: Optional[int] = None) -> None:
        """Removes a file, or a directory with its contents."""
        self._rpc("Remove", {"path": path}, user, request_timeout_ms, f"remove {path}")

    def watch_dir(
        self,
        path: str,
        on_event: Callable[[WatchEvent], Any],
        recursive: bool = False,
        user: Optional[str] = None,
        on_exit: Optional[Callable[[Optional[BaseException]], Any]] = None,
    ) -> WatchHandle:
        """Watches a directory: ``on_event`` is called (from a background thread) for each create, write, remove,
        rename and chmod. Returns once the watch is in place; ``.stop()`` ends it. ``on_exit`` is called once when
        the watch ends: with None after ``stop()``, with the error otherwise.

        Example::

            h = sandbox.files.watch_dir("/home/user", lambda e: print(e.type, e.path), recursive=True)
            h.stop()
        """
        context = f"watch {path}"
        stream = self._target.rpc.stream(
            f"{FS}/WatchDir",
            {"path": path, "recursive": recursive},
            headers={**user_header(user or DEFAULT_USER), **KEEPALIVE_HEADER},
            context=context,
        )
        return WatchHandle.start(stream, path, on_event, on_exit, context)


def _chunks(cm: Any, res: httpx.Response) -> Iterator[bytes]:
    try:
        yield from res.iter_bytes()
    finally:
        cm.__exit__(None, None, None)
