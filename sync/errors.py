"""The errors of the way out: the register refused or failed, the queue cannot be used, the
expected-inventory file cannot be read."""

from __future__ import annotations

from hal.errors import ConfigError, StocktakerError

__all__ = ["ManifestError", "QueueError", "RegisterError", "RegisterRefused", "RegisterUnavailable"]


class ManifestError(ConfigError):
    """The expected-inventory file cannot be used; the message names file, line and column."""

    def __init__(self, path: object, line: int | None, column: str | None, problem: str) -> None:
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem


class RegisterError(StocktakerError):
    """The asset register (or its outbox folder) refused or failed a request.

    Attributes:
        retry_after: seconds the register asked to wait before the next try
            (``Retry-After``), if it said.
    """

    exit_code = 4

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RegisterUnavailable(RegisterError):
    """The register could not be reached or answered as if down (timeout, reset, 5xx, 429).

    Nothing is known to have been applied; the same batch is sent again later, which is
    harmless because every transfer is idempotent.
    """


class RegisterRefused(RegisterError):
    """The register refused the device's credentials (HTTP 401 or 403): the token is wrong,
    expired or lacks a permission. Nothing is sent until an admin mends it; sending again
    does not help, but what is queued is kept.
    """


class QueueError(StocktakerError, OSError):
    """The on-device sighting queue cannot be read or written (full disk, corrupt file)."""

    exit_code = 5
