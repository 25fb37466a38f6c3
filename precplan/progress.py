"""Progress bars with an ETA for long work (rich, on stderr, only on a terminal)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def progress_bar(enabled: bool, label: str, total: int) -> Iterator:
    """A rich progress bar with ETA on stderr (only on a terminal); yields ``advance(count)``."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from rich.console import Console

    out = Console(stderr=True, highlight=False)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=out, transient=True, disable=not out.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
