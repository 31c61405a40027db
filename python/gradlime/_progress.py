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

_current: ContextVar[Callable[[int, int], None] | None] = ContextVar(
    "gradlime_progress", default=None
)


def callback() -> Callable[[int, int], None] | None:
    """What the driver calls with (finished, total) points in the current call, if anything."""
    return _current.get()


class _Bar:
    """A tqdm bar made at the first report, when the total is known."""

    def __init__(self, desc: str, delay: float) -> None:
        from tqdm.auto import tqdm

        self._tqdm, self._desc, self._delay = tqdm, desc, delay
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = self._tqdm(
                total=total,
                desc=self._desc,
                unit="point",
                delay=self._delay,
                file=sys.stderr,
            )
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _reporter(progress: Any, desc: str) -> Any:
    if progress is False:
        return None
    if callable(progress) and progress is not True:
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
    """Within it, the driver's progress goes to what `progress` asks for."""
    report = _reporter(progress, desc)
    token = _current.set(report)
    try:
        yield
    finally:
        _current.reset(token)
        if isinstance(report, _Bar):
            report.close()
