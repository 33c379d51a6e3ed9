"""Tables rendered one way: aligned plain text for the terminal, markdown for files.

A cell is a string, or a list of strings for a cell that wraps over several lines (plain
text only: the first line sits in the row, the others on continuation lines below it).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["text_table", "markdown_table"]

Cell = str | Sequence[str]


def _lines(cell: Cell) -> list[str]:
    if isinstance(cell, str):
        return [cell]
    lines = [str(x) for x in cell]
    return lines or [""]


def _check(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    if isinstance(headers, str) or not isinstance(headers, Sequence) \
            or not all(isinstance(h, str) for h in headers):
        raise TypeError(f"headers must be a sequence of strings, got {headers!r}")
    if isinstance(rows, str) or not isinstance(rows, Sequence):
        raise TypeError(f"rows must be a sequence of rows, got {rows!r}")
    for i, row in enumerate(rows):
        if isinstance(row, str) or not isinstance(row, Sequence):
            raise TypeError(f"rows[{i}] must be a sequence of cells, got {row!r}")
        if len(row) != len(headers):
            raise ValueError(f"rows[{i}] has {len(row)} cells for {len(headers)} headers")
        for cell in row:
            if not isinstance(cell, str) and not (isinstance(cell, Sequence)
                                                  and all(isinstance(x, str) for x in cell)):
                raise TypeError(f"rows[{i}] holds a cell that is not a string: {cell!r}")


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """Columns left-aligned and separated by two spaces, a dashed rule under the headers."""
    _check(headers, rows)
    cells = [[_lines(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(x) for row in cells for x in row[i]])
              for i, h in enumerate(headers)]

    def line(parts: Sequence[str]) -> str:
        return "  ".join(p.ljust(w) for p, w in zip(parts, widths)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    for row in cells:
        height = max(len(c) for c in row)
        for k in range(height):
            out.append(line([c[k] if k < len(c) else "" for c in row]))
    return "\n".join(out)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                   align: str | None = None) -> str:
    """A GitHub-flavoured markdown table; ``align`` holds one of ``l``/``r``/``c`` per column
    (default: all left). A ``|`` inside a cell is escaped."""
    _check(headers, rows)
    align = align or "l" * len(headers)
    if len(align) != len(headers) or set(align) - set("lrc"):
        raise ValueError(f"align must hold one of 'l', 'r', 'c' per column, got {align!r}")
    rule = {"l": "---", "r": "---:", "c": ":---:"}

    def row_text(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    out = [row_text(headers), "|" + "|".join(rule[a] for a in align) + "|"]
    out += [row_text(r) for r in rows]
    return "\n".join(out)
