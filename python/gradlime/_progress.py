"""Progress bars for long calls, fed by the driver's callback (points finished, points in all).

``progress=`` on every method: None (the default) shows a tqdm bar on a terminal once a call has
run for a few seconds, and nothing when stderr is not a terminal (tests, pipes, logs); True always
shows one; False never; a callable ``(finished, total)`` is called instead of a bar (for systems
that report progress their own way). The bar needs tqdm (``pip install 'gradlime[progress]'``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

__all__ = ["AUTO_DELAY", "callback", "reporting"]

AUTO_DELAY = 3.0  # seconds a call runs before the automatic bar appears

# The current public call's reporter: a _Bar, the user's callable, or None.
_current: ContextVar[Any] = ContextVar("gradlime_progress", default=None)


def callback() -> Callable[[int, int], None] | None:
    """What one engine call reports its (finished, total) points to, if anything: a bar's part
    for that call (a call such as lipschitz makes several), or the user's callable."""
    report = _current.get()
    return report.part() if isinstance(report, _Bar) else report


class _Bar:
    """One tqdm bar over every engine call made within a public call, made at the first report;
    each call adds its points to the bar's total when it first reports."""

    def __init__(self, desc: str, delay: float) -> None:
        from tqdm.auto import tqdm

        self._tqdm, self._desc, self._delay = tqdm, desc, delay
        self._bar: Any = None

    def part(self) -> Callable[[int, int], None]:
        start: list[int] = []  # the bar's count when this call began, set at its first report

        def report(done: int, total: int) -> None:
            if self._bar is None:
                self._bar = self._tqdm(
                    total=0, desc=self._desc, unit="point", delay=self._delay, file=sys.stderr
                )
            if not start:
                start.append(self._bar.n)
                self._bar.total += total
                self._bar.refresh()
            self._bar.update(start[0] + done - self._bar.n)

        return report

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _reporter(progress: Any, desc: str) -> Any:
    if progress is False:
        return None
    if callable(progress):
        return progress
    if progress is None:  # automatic: a terminal only, and only once the call runs long
        if not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
            return None
        try:
            return _Bar(desc, AUTO_DELAY)
        except ImportError:
            return None
    if progress is True:
        try:
            return _Bar(desc, 0.0)
        except ImportError as exc:
            raise ImportError("progress=True needs tqdm: pip install 'gradlime[progress]'") from exc
    raise TypeError(
        f"progress must be None, True, False or a callable (finished, total); got {progress!r}"
    )


@contextlib.contextmanager
def reporting(progress: Any, desc: str) -> Iterator[None]:
    """Within it, the driver's progress goes to what `progress` asks for; a call inside another
    (lipschitz explaining neighbours) reports to the outer one's unless it says otherwise."""
    if progress is None and _current.get() is not None:
        yield
        return
    report = _reporter(progress, desc)
    token = _current.set(report)
    try:
        yield
    finally:
        _current.reset(token)
        if isinstance(report, _Bar):
            report.close()
