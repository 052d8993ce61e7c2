"""Helpers for the notebook pipeline: the notebooks orchestrate, this package computes."""

import sys

__version__ = "0.1.0"

# Lines a helper prints to stderr with this prefix are warnings the runner
# repeats on the terminal (kept here, in the module every stage depends on).
WARNING_PREFIX = "nbml warning:"


def warn(message: str) -> None:
    """Print a warning to stderr with WARNING_PREFIX, so the runner repeats it on the terminal."""
    print(f"{WARNING_PREFIX} {message}", file=sys.stderr)
