"""``Volume``: a team's named persistent file system (E2B's ``Volume``), mounted read-write by sandboxes
(``Sandbox.create(..., volume_mounts={"/mnt/data": "data"})``, several at once) and readable and writable without one
through the volume content API (``read_file``, ``write_file``, ``list``, ... with the volume's own token).
``AsyncVolume`` is its asyncio twin.

Example::

    vol = Volume.create("data", size_mb=512)
    sbx = Sandbox.create("default", volume_mounts={"/mnt/data": vol})
    sbx.commands.run("echo hi > /mnt/data/out.txt")
    sbx.kill()
    print(vol.read_file("/out.txt"))  # 'hi\\n', after the sandbox is gone
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union
from urllib.parse import quote

import httpx

from .async_calls import _async_static, _thread
from .connection import ConnectionConfig, _body, resolve
from .exceptions import SandboxException, TimeoutException, from_http


@dataclass
class VolumeInfo:
    """A volume as ``Volume.list`` shows it."""

    volume_id: str
    name: str
    size_mb: Optional[int] = None
    created_at: Optional[str] = None

    @classmethod
    def from_api(cls, v: Dict[str, Any]) -> "VolumeInfo":
        return cls(v["volumeID"], v["name"], v.get("sizeMB"), v.get("createdAt"))


@dataclass
class VolumeEntryStat:
    """A file, directory or symbolic link in a volume (links are reported with ``target``, never followed)."""

    name: str
    path: str
    type: str
    size: int
    mode: int
    uid: int
    gid: int
    mtime: str
    target: Optional[str] = None

    @classmethod
    def from_api(cls, e: Dict[str, Any]) -> "VolumeEntryStat":
        return cls(
            e["name"], e["path"], e["type"], e["size"], e["mode"], e["uid"], e["gid"], e["mtime"], e.get("target")
        )


class Volume:
    """A volume and its content API (static calls take the connection options ``domain``, ``api_key``, ...)."""

    def __init__(self, info: Dict[str, Any], config: ConnectionConfig) -> None:
        self.volume_id: str = info["volumeID"]
        self.name: str = info["name"]
        self.size_mb: Optional[int] = info.get("sizeMB")
        self.token: str = info["token"]
        self._config = config

    @classmethod
    def create(cls, name: str, size_mb: Optional[int] = None, **conn: Any) -> "Volume":
        """Makes a volume of the caller's team (``size_mb``: its size limit; default the server's, 1024).

        Raises:
            InvalidArgumentException: bad name or size. ConflictException: the team has a volume of that name.
        """
        config = resolve(**conn)
        body: Dict[str, Any] = {"name": name, **({"sizeMB": size_mb} if size_mb is not None else {})}
        return cls(config.request("POST", "/volumes", json=body, context=f"create volume {name}").json(), config)

    @classmethod
    def get(cls, id_or_name: str, **conn: Any) -> "Volume":
        """A volume of the caller's team by ID or name, with a fresh content token."""
        config = resolve(**conn)
        res = config.request("GET", f"/volumes/{quote(id_or_name, safe='')}", context=f"get volume {id_or_name}")
        return cls(res.json(), config)

    @staticmethod
    def list(**conn: Any) -> List[VolumeInfo]:
        """The caller's team's volumes, oldest first."""
        return [
            VolumeInfo.from_api(v) for v in resolve(**conn).request("GET", "/volumes", context="list volumes").json()
        ]

    @staticmethod
    def delete(id_or_name: str, **conn: Any) -> bool:
        """Deletes a volume and its files; False when there was none.

        Raises:
            ConflictException: a running or paused sandbox mounts it.
        """
        res = resolve(**conn).request(
            "DELETE",
            f"/volumes/{quote(id_or_name, safe='')}",
            context=f"delete volume {id_or_name}",
            ok_statuses=(404,),
        )
        return res.status_code != 404

    def list_dir(self, path: str, depth: Optional[int] = None) -> List[VolumeEntryStat]:
        """A directory's entries, ``depth`` levels deep."""
        res = self._content("GET", "dir", {"path": path, "depth": depth}, f"list {path}")
        return [VolumeEntryStat.from_api(e) for e in res.json()]

    def make_dir(self, path: str, force: bool = False, mode: Optional[int] = None) -> VolumeEntryStat:
        """Makes a directory (``force``: its missing parents too)."""
        q = {"path": path, "force": "true" if force else None, "mode": mode}
        return VolumeEntryStat.from_api(self._content("POST", "dir", q, f"make directory {path}").json())

    def get_info(self, path: str) -> VolumeEntryStat:
        return VolumeEntryStat.from_api(self._content("GET", "path", {"path": path}, f"stat {path}").json())

    def read_file(self, path: str, format: str = "text") -> Union[str, bytes]:
        """A file's contents (``format="bytes"`` for bytes)."""
        data = self._content("GET", "file", {"path": path}, f"read {path}").content
        return data if format == "bytes" else data.decode()

    def write_file(
        self, path: str, data: Union[str, bytes], force: bool = False, mode: Optional[int] = None
    ) -> VolumeEntryStat:
        """Writes a file whole (made or replaced).

        Raises:
            NotEnoughSpaceException: the volume is full.
        """
        body = data.encode() if isinstance(data, str) else data
        q = {"path": path, "force": "true" if force else None, "mode": mode}
        return VolumeEntryStat.from_api(self._content("PUT", "file", q, f"write {path}", body).json())

    def remove(self, path: str) -> None:
        """Removes a file or a directory with its contents (a symbolic link: the link only)."""
        self._content("DELETE", "path", {"path": path}, f"remove {path}")

    def _content(
        self, method: str, what: str, query: Dict[str, Any], context: str, body: Optional[bytes] = None
    ) -> httpx.Response:
        params = {k: v for k, v in query.items() if v is not None}
        headers = {"Authorization": f"Bearer {self.token}", **self._config.headers}
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        ctx = f"volume {self.name}: {context}"
        try:
            with httpx.Client(base_url=self._config.api_url, timeout=self._config.timeout_s) as client:
                res = client.request(
                    method, f"/volumecontent/{self.volume_id}/{what}", params=params, content=body, headers=headers
                )
        except httpx.TimeoutException as e:
            raise TimeoutException(f"{ctx}: request timed out") from e
        except httpx.HTTPError as e:
            raise SandboxException(f"{ctx}: {e}") from e
        if not res.is_success:
            raise from_http(res.status_code, _body(res), ctx)
        return res


class AsyncVolume:
    """:class:`Volume` as coroutines (see :mod:`tensor_box.async_calls`): ``await AsyncVolume.create("data")``."""

    def __init__(self, v: Volume) -> None:
        self._v = v
        self.volume_id = v.volume_id
        self.name = v.name
        self.size_mb = v.size_mb
        self.token = v.token

    @classmethod
    async def create(cls, name: str, size_mb: Optional[int] = None, **conn: Any) -> "AsyncVolume":
        return cls(await _thread(Volume.create, name, size_mb, **conn))

    @classmethod
    async def get(cls, id_or_name: str, **conn: Any) -> "AsyncVolume":
        return cls(await _thread(Volume.get, id_or_name, **conn))

    list = _async_static(Volume.list)
    delete = _async_static(Volume.delete)

    async def list_dir(self, path: str, depth: Optional[int] = None) -> List[VolumeEntryStat]:
        entries: List[VolumeEntryStat] = await _thread(self._v.list_dir, path, depth)
        return entries

    async def make_dir(self, path: str, force: bool = False, mode: Optional[int] = None) -> VolumeEntryStat:
        entry: VolumeEntryStat = await _thread(self._v.make_dir, path, force, mode)
        return entry

    async def get_info(self, path: str) -> VolumeEntryStat:
        entry: VolumeEntryStat = await _thread(self._v.get_info, path)
        return entry

    async def read_file(self, path: str, format: str = "text") -> Union[str, bytes]:
        data: Union[str, bytes] = await _thread(self._v.read_file, path, format)
        return data

    async def write_file(
        self, path: str, data: Union[str, bytes], force: bool = False, mode: Optional[int] = None
    ) -> VolumeEntryStat:
        entry: VolumeEntryStat = await _thread(self._v.write_file, path, data, force, mode)
        return entry

    async def remove(self, path: str) -> None:
        await _thread(self._v.remove, path)
