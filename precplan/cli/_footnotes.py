"""Numbered footnotes for tables: a long source or note leaves the table as ``[n]`` and is printed
once, in full, below it. Tables then keep one line per row at 80 columns, and the text a reader
checks a number against is never cut."""

from __future__ import annotations

from typing import Iterable

__all__ = ["Footnotes", "escape_all", "whole_table"]


class Footnotes:
    """Collects texts in first-mention order; the same text gets the same number.

    Example
    -------
    >>> notes = Footnotes()
    >>> notes.mark("Frantar et al. 2022, Table 3"), notes.mark("AWQ, Table 4"), notes.mark("Frantar et al. 2022, Table 3")
    ('[1]', '[2]', '[1]')
    >>> notes.lines()
    ['[1] Frantar et al. 2022, Table 3', '[2] AWQ, Table 4']
    """

    def __init__(self) -> None:
        self._texts: list[str] = []

    def mark(self, *parts: str | None) -> str:
        """The ``[n]`` marker of the text made of the non-empty ``parts`` joined by ``; `` (``-`` if all empty)."""
        text = "; ".join(p.strip() for p in parts if p and p.strip())
        if not text:
            return "-"
        if text not in self._texts:
            self._texts.append(text)
        return f"[{self._texts.index(text) + 1}]"

    def lines(self) -> list[str]:
        """``[n] text`` for every footnote, in number order."""
        return [f"[{i}] {t}" for i, t in enumerate(self._texts, 1)]

    def print(self, heading: str | None = None) -> None:
        """Print the footnotes (soft-wrapped, no markup: a source may contain brackets)."""
        from precplan.cli._render import console

        out = console()
        if heading and self._texts:
            out.print(heading, markup=False, highlight=False, style="italic")
        for line in self.lines():
            out.print(line, markup=False, highlight=False, soft_wrap=True)


def escape_all(cells: Iterable[str]) -> list[str]:
    """Cells with rich markup escaped (model names and sources may contain brackets)."""
    from rich.markup import escape

    return [escape(c) for c in cells]


def whole_table(title: str, columns: list[str], rows: list, caption: str | None = None):
    """A table no cell of which is ever wrapped or cut (names and numbers stay whole; a terminal
    too narrow wraps the line instead), with numeric columns right-aligned: their cells are padded
    here, because a never-wrapped rich column does not justify."""
    from precplan.cli._render import _looks_numeric, table

    rows = [[str(c) for c in r] for r in rows]
    padded = [list(r) for r in rows]
    for i, col in enumerate(columns):
        if i > 0 and rows and all(_looks_numeric(r[i]) for r in rows if i < len(r)):
            width = max([len(col)] + [len(r[i]) for r in rows if i < len(r)])
            for r in padded:
                if i < len(r):
                    r[i] = r[i].rjust(width)
    return table(title, columns, padded, caption, whole=tuple(range(len(columns))))
