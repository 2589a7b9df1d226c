"""Progress reporting and cancellation shared by core/, methods/ and the Qt-side wrappers."""
from __future__ import annotations

from typing import Callable, Optional

from .errors import HsiCancelled

ProgressCallback = Callable[[float], None]  # percent 0..100
CancelCheck = Callable[[], bool]
LogCallback = Callable[[str], None]


class Monitor:
    """Bundles a progress callback, a cancel check and a log callback; ``span`` maps a stage to a sub-range."""

    def __init__(
        self,
        progress: Optional[ProgressCallback] = None,
        cancelled: Optional[CancelCheck] = None,
        log: Optional[LogCallback] = None,
        start: float = 0.0,
        end: float = 100.0,
    ) -> None:
        self._progress = progress
        self._cancelled = cancelled
        self._log = log
        self._start = start
        self._end = end

    def report(self, fraction: float) -> None:
        """Report progress of the current stage as a fraction 0..1."""
        if self._progress is not None:
            fraction = min(max(fraction, 0.0), 1.0)
            self._progress(self._start + (self._end - self._start) * fraction)

    def check(self) -> None:
        """Raise :class:`HsiCancelled` if the user asked to stop."""
        if self._cancelled is not None and self._cancelled():
            raise HsiCancelled("Cancelled by the user")

    def is_cancelled(self) -> bool:
        return self._cancelled is not None and bool(self._cancelled())

    def log(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    def span(self, start: float, end: float) -> "Monitor":
        """A monitor whose 0..1 maps onto ``start..end`` (fractions) of this one."""
        width = self._end - self._start
        return Monitor(
            self._progress,
            self._cancelled,
            self._log,
            self._start + width * start,
            self._start + width * end,
        )


def as_monitor(monitor: Optional[Monitor]) -> Monitor:
    return monitor if monitor is not None else Monitor()
