"""What the doctor finds: one :class:`CheckResult` per check, or an abort with its exit status."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

__all__ = [
    "CheckResult",
    "DoctorAborted",
    "DoctorReport",
    "NoAccount",
    "NotTokensmith",
    "ServerRateLimited",
    "ServerUnreachable",
    "Status",
]


class Status(StrEnum):
    PASS = "pass"  # noqa: S105  # a check outcome, not a password
    FAIL = "fail"
    WARN = "warn"
    """Works, but outside the usual range; not counted as a failure."""
    SKIP = "skip"
    """Could not be decided from outside; the evidence says why and what was seen."""


@dataclass(frozen=True)
class CheckResult:
    number: int
    title: str
    status: Status
    evidence: tuple[str, ...]
    fix: str | None = None
    """How to repair a failure (or act on a warning); ``None`` when there is nothing to do."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "status": str(self.status),
            "evidence": list(self.evidence),
            "fix": self.fix,
        }


@dataclass(frozen=True)
class DoctorReport:
    url: str
    checks: tuple[CheckResult, ...]

    @property
    def failed(self) -> int:
        return sum(check.status is Status.FAIL for check in self.checks)

    @property
    def exit_status(self) -> int:
        """The number of failed checks (0 to 10)."""
        return self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "checks": [check.as_dict() for check in self.checks],
            "failed": self.failed,
            "exit_status": self.exit_status,
        }


class DoctorAborted(Exception):
    """The checklist cannot run at all; ``exit_status`` is distinct from any failure count."""

    exit_status: ClassVar[int] = 70

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServerUnreachable(DoctorAborted):
    """Connection refused, DNS failure, TLS failure or timeout (sysexits EX_UNAVAILABLE)."""

    exit_status = 69


class ServerRateLimited(DoctorAborted):
    """The server answered 429 (sysexits EX_TEMPFAIL: try again later)."""

    exit_status = 75


class NotTokensmith(DoctorAborted):
    """The server answers, but not as the contract says (sysexits EX_PROTOCOL)."""

    exit_status = 76


class NoAccount(DoctorAborted):
    """Login failed, or no credentials and registration is closed (sysexits EX_NOPERM)."""

    exit_status = 77
