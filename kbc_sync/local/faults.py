"""Faults injected on demand, so tests can prove how a client copes when Keboola misbehaves."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

TARGETS = ("api", "s3")
_KNOWN = {
    "method", "path", "times", "status", "retry_after", "drop_connection", "job_error", "delay",
    "target", "code", "message", "after_work",
}  # fmt: skip


class FaultSpecError(ValueError):
    """A fault specification that cannot be used; the message names the field."""


@dataclass
class Fault:
    method: str | None
    path: re.Pattern[str] | None
    times: int | None
    target: str
    status: int | None
    retry_after: float | None
    drop_connection: bool
    job_error: bool
    delay: float | None
    code: str | None
    message: str | None
    after_work: bool = False

    def matches(self, target: str, method: str, path: str) -> bool:
        if target != self.target:
            return False
        if self.method is not None and self.method != method.upper():
            return False
        return self.path is None or self.path.search(path) is not None


def parse_fault(spec: dict[str, Any]) -> Fault:
    """Validate a fault specification (the JSON of `POST /_local/faults`)."""
    if not isinstance(spec, dict):
        raise FaultSpecError("A fault must be a JSON object.")
    unknown = sorted(set(spec) - _KNOWN)
    if unknown:
        raise FaultSpecError(f"Unknown fault fields {unknown}; known: {sorted(_KNOWN)}.")

    kinds = [k for k in ("status", "drop_connection", "job_error", "delay") if spec.get(k)]
    if not kinds:
        raise FaultSpecError(
            'A fault needs one of "status", "drop_connection", "job_error" or "delay".'
        )
    if len([k for k in kinds if k != "delay"]) > 1:
        raise FaultSpecError(f"Use only one of status, drop_connection, job_error; got {kinds}.")

    target = spec.get("target", "api")
    if target not in TARGETS:
        raise FaultSpecError(f'"target" must be one of {list(TARGETS)}, not {target!r}.')
    if spec.get("job_error") and target != "api":
        raise FaultSpecError('"job_error" applies to API calls only.')
    if spec.get("after_work") and not (spec.get("status") and target == "api"):
        # Only the API server does work worth answering for; S3 faults fire before it.
        raise FaultSpecError('"after_work" needs "status" and applies to API calls only.')

    try:
        path = re.compile(spec["path"]) if spec.get("path") else None
    except re.error as exc:
        raise FaultSpecError(f'"path" is not a valid regular expression: {exc}.') from None

    return Fault(
        method=str(spec["method"]).upper() if spec.get("method") else None,
        path=path,
        times=_number(spec, "times", int),
        target=target,
        status=_number(spec, "status", int),
        retry_after=_number(spec, "retry_after", float),
        drop_connection=bool(spec.get("drop_connection")),
        job_error=bool(spec.get("job_error")),
        delay=_number(spec, "delay", float),
        code=spec.get("code"),
        message=spec.get("message"),
        after_work=bool(spec.get("after_work")),
    )


def _number(spec: dict[str, Any], name: str, kind: type) -> Any:
    value = spec.get(name)
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise FaultSpecError(f'"{name}" must be a number, not {value!r}.') from None
    if (
        number < 0
        or (name == "status" and not 400 <= number <= 599)
        or (name == "times" and number < 1)
    ):
        raise FaultSpecError(f'"{name}" is out of range: {value!r}.')
    return number


class FaultBook:
    """The active faults; the first that matches a request fires and counts down its `times`.

    A fault without `times` fires on every matching request until cleared.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, spec: dict[str, Any]) -> Fault:
        fault = parse_fault(spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, target: str, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(target, method, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def count(self) -> int:
        with self._lock:
            return len(self._faults)
