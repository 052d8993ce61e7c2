"""How the helpers talk to the person running a stage.

A notebook's stderr is captured into the executed notebook; lines a helper
prints there with :data:`WARNING_PREFIX` are repeated by the stage runner on
the terminal, where a user of ``dvc repro`` sees them, at the end of the
stage; lines with :data:`PROGRESS_PREFIX` are repeated as they arrive.
"""

from __future__ import annotations

import sys

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
