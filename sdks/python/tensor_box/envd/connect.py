"""A small Connect-RPC client (JSON codec) over httpx, enough for envd: unary calls and server streams.

Wire format (https://connectrpc.com/docs/protocol):

* unary: ``POST /<pkg>.<Service>/<Method>``, ``Content-Type: application/json``, JSON in and out; an error is a
  non-200 status with ``{"code": "<connect code>", "message": "..."}``.
* server stream: ``Content-Type: application/connect+json``; the request and every response message is an envelope::

      +-------+----------------------+-------------------+
      | flags | length (u32, BE)     | JSON payload      |
      | 1 B   | 4 B                  | length bytes      |
      +-------+----------------------+-------------------+

  flag ``0x01`` = compressed (never requested here), ``0x02`` = end of stream, whose payload is
  ``{"error": {...}}`` on failure or ``{}``.
* deadlines travel as ``Connect-Timeout-Ms``.

Hand-written rather than generated (connectrpc needs protoc plugins and protobuf classes) because envd's JSON messages
are small dicts; the typed layer lives in the modules that use them.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

import httpx

from ..exceptions import SandboxException, TimeoutException, from_connect, from_http

FLAG_COMPRESSED = 0x01
FLAG_END_STREAM = 0x02
_HEADER = struct.Struct(">BI")


def encode_envelope(message: Any, flags: int = 0) -> bytes:
    """Frames one JSON message as a Connect envelope."""
    payload = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(flags, len(payload)) + payload


class EnvelopeDecoder:
    """Reassembles envelopes from arbitrary chunks of a response body."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> List[Tuple[int, bytes]]:
        """Adds bytes; returns the ``(flags, payload)`` envelopes now complete."""
        self._buf.extend(chunk)
        out: List[Tuple[int, bytes]] = []
        while len(self._buf) >= _HEADER.size:
            flags, length = _HEADER.unpack_from(self._buf)
            end = _HEADER.size + length
            if len(self._buf) < end:
                break
            out.append((flags, bytes(self._buf[_HEADER.size : end])))
            del self._buf[:end]
        return out

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole envelope."""
        return len(self._buf)


def _error_from_response(status: int, body: bytes, context: str) -> SandboxException:
    """An error answered as a whole HTTP response: a Connect error body, or a proxy's ``{code: int, message}``."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = body.decode("utf-8", "replace")
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return from_connect(data["code"], str(data.get("message", "")), context)
    return from_http(status, data, context)


def _end_stream_error(payload: bytes, context: str) -> Optional[SandboxException]:
    try:
        data = json.loads(payload) if payload else {}
    except ValueError:
        return SandboxException(f"{context}: malformed end of stream")
    err = data.get("error") if isinstance(data, dict) else None
    if not err:
        return None
    return from_connect(str(err.get("code", "unknown")), str(err.get("message", "")), context)


class ServerStream:
    """The messages of one server-streaming call. Iterate it (in one thread); :meth:`close` may be called from any
    thread and makes a blocked iteration end promptly."""

    def __init__(self, cm: Any, response: httpx.Response, context: str) -> None:
        self._cm = cm
        self._response = response
        self._context = context
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed.is_set()

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        decoder = EnvelopeDecoder()
        stopped_by_caller = False
        try:
            for chunk in self._response.iter_raw():
                for flags, payload in decoder.feed(chunk):
                    if flags & FLAG_END_STREAM:
                        err = _end_stream_error(payload, self._context)
                        if err:
                            raise err
                        return
                    if flags & FLAG_COMPRESSED:
                        raise SandboxException(f"{self._context}: compressed message (not negotiated)")
                    yield json.loads(payload)
        except (httpx.HTTPError, OSError) as e:
            if self.closed:
                return
            raise TimeoutException(f"{self._context}: stream broke: {e or type(e).__name__}") from e
        finally:
            stopped_by_caller = self.closed
            self.close()
        if not stopped_by_caller:
            raise TimeoutException(f"{self._context}: the stream ended without an end-of-stream message")

    def close(self) -> None:
        """Stops the stream. Shuts the socket down first: closing it alone would not wake a thread blocked in recv."""
        if self._closed.is_set():
            return
        self._closed.set()
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            self._cm.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - closing a broken stream may raise; it is closed either way
            pass


class ConnectClient:
    """Calls Connect methods at ``base_url`` with fixed headers (the sandbox routing and auth headers)."""

    def __init__(self, base_url: str, headers: Dict[str, str], http: Optional[httpx.Client] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        # One pooled client per sandbox: many calls reuse connections; it is thread-safe.
        self.http = http or httpx.Client(timeout=httpx.Timeout(60.0, read=None))

    def _headers(self, extra: Optional[Dict[str, str]], timeout_ms: Optional[int]) -> Dict[str, str]:
        h = {"Connect-Protocol-Version": "1", **self.headers, **(extra or {})}
        if timeout_ms:
            h["Connect-Timeout-Ms"] = str(int(timeout_ms))
        return h

    def unary(
        self,
        method: str,
        request: Dict[str, Any],
        *,
        headers: Optional[Dict[str, str]] = None,
        timeout_ms: Optional[int] = None,
        context: str = "",
    ) -> Dict[str, Any]:
        """Calls a unary method (``method`` like ``filesystem.Filesystem/Stat``); returns the response message."""
        ctx = context or method
        h = self._headers(headers, timeout_ms)
        h["Content-Type"] = "application/json"
        # Client-side bound slightly past the deadline, so a server that ignores the header cannot hang us.
        timeout = (timeout_ms / 1000 + 5) if timeout_ms else 65.0
        try:
            res = self.http.post(f"{self.base_url}/{method}", content=json.dumps(request), headers=h, timeout=timeout)
        except httpx.TimeoutException as e:
            raise TimeoutException(f"{ctx}: request timed out") from e
        except httpx.HTTPError as e:
            raise TimeoutException(f"{ctx}: sandbox is not reachable: {e}") from e
        if res.status_code != 200:
            raise _error_from_response(res.status_code, res.content, ctx)
        return res.json() if res.content else {}

    def stream(
        self,
        method: str,
        request: Dict[str, Any],
        *,
        headers: Optional[Dict[str, str]] = None,
        timeout_ms: Optional[int] = None,
        context: str = "",
    ) -> ServerStream:
        """Opens a server stream; raises the mapped error when the call is refused before any message."""
        ctx = context or method
        h = self._headers(headers, timeout_ms)
        h["Content-Type"] = "application/connect+json"
        # HTTP-level compression would buffer a live stream; Connect compresses per message when asked (we do not).
        h["Accept-Encoding"] = "identity"
        cm = self.http.stream("POST", f"{self.base_url}/{method}", content=encode_envelope(request), headers=h)
        try:
            response = cm.__enter__()
        except httpx.TimeoutException as e:
            raise TimeoutException(f"{ctx}: request timed out") from e
        except httpx.HTTPError as e:
            raise TimeoutException(f"{ctx}: sandbox is not reachable: {e}") from e
        if response.status_code != 200:
            try:
                body = response.read()
            finally:
                cm.__exit__(None, None, None)
            raise _error_from_response(response.status_code, body, ctx)
        return ServerStream(cm, response, ctx)

    def close(self) -> None:
        """Closes pooled connections."""
        self.http.close()
