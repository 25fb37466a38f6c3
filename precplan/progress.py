"""Progress bars with an ETA for long work (rich, on stderr, only on a terminal)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

SHOW_AFTER_S = 1.0  # work that ends sooner shows no bar


@contextmanager
def progress_bar(enabled: bool, label: str, total: int | None, show_after: float = SHOW_AFTER_S) -> Iterator:
    """A rich progress bar with ETA on stderr (only on a terminal), shown once the work has run
    for ``show_after`` seconds; yields ``advance(count)`` (``None`` when disabled).
    ``advance.total(n)`` resets the total (work whose size is only estimated)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    out = Console(stderr=True, highlight=False)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), console=out, transient=True, disable=not out.is_terminal)
    task = bar.add_task(label, total=total)
    started = time.monotonic()
    shown = False

    def advance(n: int) -> None:
        nonlocal shown
        bar.advance(task, n)
        if not shown and time.monotonic() - started >= show_after:
            bar.start()
            shown = True

    def set_total(n: int) -> None:
        bar.update(task, total=n)

    advance.total = set_total  # type: ignore[attr-defined]
    try:
        yield advance
    finally:
        if shown:
            bar.stop()


def noop(_: int) -> None:
    """An ``advance`` that does nothing (for progress_bar's disabled case)."""


def callback(advance: Callable[[int], None] | None) -> Callable[[int], None]:
    return advance or noop
