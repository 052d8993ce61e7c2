"""How the helpers talk to the person running a stage.

A notebook's stderr is captured into the executed notebook; lines a helper
prints there with :data:`WARNING_PREFIX` are repeated by the stage runner on
the terminal, where a user of ``dvc repro`` sees them, at the end of the
stage; lines with :data:`PROGRESS_PREFIX` are repeated as they arrive.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

WARNING_PREFIX = "nbml warning:"
PROGRESS_PREFIX = "nbml progress:"


def warn(message: str) -> None:
    """Print a warning to stderr with WARNING_PREFIX, so the runner repeats it on the terminal."""
    print(f"{WARNING_PREFIX} {message}", file=sys.stderr)


def progress(message: str) -> None:
    """What long work is doing, on stderr, flushed: the runner repeats it on the terminal at once.

    The line is also kept in the executed notebook: say what and how much
    (rows, columns), never how long, so the notebook's bytes stay the same.
    """
    print(f"{PROGRESS_PREFIX} {message}", file=sys.stderr, flush=True)


def say(message: str) -> None:
    """A progress or error line of a command-line tool, on stderr, flushed at once."""
    print(f"nbml: {message}", file=sys.stderr, flush=True)


def warning_lines(text: str) -> list[str]:
    """The helper warnings in some captured stderr text."""
    return [line for line in text.splitlines() if line.startswith(WARNING_PREFIX)]


# Printed lines stay readable in a terminal and a CI log: a list of columns or
# values is cut to a few examples, each clipped, with how many there are.
SHOWN_ITEMS = 5
ITEM_CHARS = 40
LIST_CHARS = 120


def _clip(text: str, width: int = ITEM_CHARS) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def shorten(
    items: Iterable[Any],
    noun: str = "values",
    limit: int = SHOWN_ITEMS,
    show: Callable[[Any], str] = str,
) -> str:
    """A list for one printed line: 'a, b, c', or '263 values, e.g. a, b, c, d, e'.

    At most ``limit`` items, and no more than fit in :data:`LIST_CHARS` characters,
    each rendered with ``show`` (``repr`` to quote text; numpy scalars as plain
    Python values) and clipped to :data:`ITEM_CHARS` characters.
    """
    items = list(items)
    shown: list[str] = []
    for value in items[:limit]:
        text = _clip(show(value.item() if hasattr(value, "item") else value))
        if shown and sum(len(s) + 2 for s in shown) + len(text) > LIST_CHARS:
            break
        shown.append(text)
    if len(shown) == len(items):
        return ", ".join(shown)
    return f"{len(items)} {noun}, e.g. {', '.join(shown)}"
