"""Errors raised by the SDK: one base class, a flat list of kinds, and the only two places where wire errors become
SDK errors: :func:`from_http` (REST and envd's HTTP routes) and :func:`from_connect` (envd's Connect-RPC)."""

from __future__ import annotations

from typing import Any, Optional


class SandboxException(Exception):
    """Base class of every error the SDK raises. ``status`` is the HTTP status when one was involved."""

    def __init__(self, message: str = "", status: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class NotFoundException(SandboxException):
    """Raised when a sandbox, template, snapshot, file or process does not exist."""


class AuthenticationException(SandboxException):
    """Raised when the API key (or the sandbox's access token) is missing or wrong."""


class InvalidArgumentException(SandboxException):
    """Raised when a request is malformed or a value is out of range."""


class ConflictException(SandboxException):
    """Raised when an operation conflicts with the current state (pausing a paused sandbox, a path that exists)."""


class TimeoutException(SandboxException):
    """Raised when a call or a command runs past its timeout, or the sandbox went away mid-call."""


class RateLimitException(SandboxException):
    """Raised when the server rate-limits the caller or a quota is exhausted."""


class NotEnoughSpaceException(SandboxException):
    """Raised when the sandbox's disk is full."""


class PermissionDeniedException(SandboxException):
    """Raised when access to a path or route is forbidden."""


class CommandExitException(SandboxException):
    """Raised by ``commands.run`` and ``CommandHandle.wait`` when the command exits with a non-zero code.

    The partial output stays available as ``stdout``/``stderr``.
    """

    def __init__(self, exit_code: int, stdout: str, stderr: str, error: Optional[str] = None) -> None:
        tail = f"\n{stderr[-2000:]}" if stderr else ""
        super().__init__(f"command exited with code {exit_code}{': ' + error if error else ''}{tail}")
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.error = error


class BuildException(SandboxException):
    """Raised when a template build ends with status ``error`` (``Template.wait_for_build``,
    ``commit_as_template``). ``reason`` (a :class:`tensor_box.BuildReason`) carries the message, the failing ``step``
    and its ``exit_code``; those two are also attributes of the exception."""

    def __init__(self, template_id: str, build_id: str, reason: Any) -> None:
        message = getattr(reason, "message", None) or "see the build's logs"
        step = getattr(reason, "step", None)
        exit_code = getattr(reason, "exit_code", None)
        where = f" at step {step!r}" if step else ""
        code = f" (exit code {exit_code})" if exit_code else ""
        super().__init__(f"build {build_id} of template {template_id} failed{where}{code}: {message}")
        self.template_id = template_id
        self.build_id = build_id
        self.reason = reason
        self.step: Optional[str] = step
        self.exit_code: Optional[int] = exit_code


_HTTP_KINDS = {
    400: InvalidArgumentException,
    401: AuthenticationException,
    403: PermissionDeniedException,
    404: NotFoundException,
    409: ConflictException,
    429: RateLimitException,
    # The gateway could not reach the sandbox: for the caller that is the sandbox having timed out or gone.
    502: TimeoutException,
    503: TimeoutException,
    504: TimeoutException,
    507: NotEnoughSpaceException,
}


def _message_of(body: Any) -> str:
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return "" if body is None else str(body)


def from_http(status: int, body: Any, context: str = "") -> SandboxException:
    """Maps an HTTP error status and its body (``{code, message}`` JSON, or text) to the SDK error."""
    message = _message_of(body) or f"HTTP {status}"
    msg = f"{context}: {message}" if context else message
    return _HTTP_KINDS.get(status, SandboxException)(msg, status)


_CONNECT_KINDS = {
    "invalid_argument": InvalidArgumentException,
    "out_of_range": InvalidArgumentException,
    "unauthenticated": AuthenticationException,
    "permission_denied": PermissionDeniedException,
    "not_found": NotFoundException,
    "already_exists": ConflictException,
    "failed_precondition": ConflictException,
    # envd reports a full disk as resource_exhausted (E2B maps it the same way on filesystem calls).
    "resource_exhausted": NotEnoughSpaceException,
    "deadline_exceeded": TimeoutException,
    "canceled": TimeoutException,
    "unavailable": TimeoutException,
}


def from_connect(code: str, message: str, context: str = "") -> SandboxException:
    """Maps a Connect error (``code`` is the Connect code string, e.g. ``not_found``) to the SDK error."""
    msg = message or code
    if code == "unavailable":
        msg = f"sandbox is not reachable (killed or timed out?): {msg}"
    elif code in ("deadline_exceeded", "canceled"):
        msg = f"operation timed out: {msg}"
    elif code not in _CONNECT_KINDS:
        msg = f"{code}: {msg}"
    if context:
        msg = f"{context}: {msg}"
    return _CONNECT_KINDS.get(code, SandboxException)(msg)


# Connect's mapping of HTTP statuses to codes, for errors a proxy in front of envd answers with (no Connect body).
_HTTP_TO_CONNECT = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    408: "deadline_exceeded",
    409: "already_exists",
    429: "unavailable",
    502: "unavailable",
    503: "unavailable",
    504: "unavailable",
}


def connect_code_for_http(status: int) -> str:
    """The Connect code a response without a Connect error body stands for (per the Connect protocol spec)."""
    return _HTTP_TO_CONNECT.get(status, "unknown")
