"""One progress bar over an experiment's steps (tqdm, when it is installed and asked for)."""

from __future__ import annotations

from typing import Any


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def bar(total: int, desc: str, enabled: bool) -> Any:
    """A bar of `total` steps on stderr, or an object that ignores updates."""
    if not enabled:
        return _Silent()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Silent()
    return tqdm(total=total, desc=desc, unit="step")
