"""Progress on the terminal while a stage's notebook runs.

papermill executes the notebook in a kernel whose output goes into the
executed notebook, not to the terminal: a long cell would leave ``dvc repro``
silent for minutes. Two things keep it talking, at least every
:data:`HEARTBEAT_SECONDS`:

- lines the helpers print with :data:`nbml.messages.PROGRESS_PREFIX` are
  repeated on the terminal as they arrive (papermill hands each stderr
  message to :class:`ProgressEcho`);
- when no such line came for a while, :class:`Heartbeat` says which cell is
  running and for how long.

Only the terminal sees the times; the notebook's own lines carry none, so
the executed notebook keeps the same bytes from run to run.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field

from nbml.messages import PROGRESS_PREFIX, say

HEARTBEAT_SECONDS = 10.0


@dataclass
class RunState:
    """What the heartbeat reports: the running cell and when the terminal last heard."""

    stage: str
    cells: int
    started: float = field(default_factory=time.monotonic)
    last_line: float = field(default_factory=time.monotonic)
    cell: tuple[int, str] | None = None
    first_cell: float | None = None  # time.monotonic() when the first cell was sent
    first_code_done: float | None = None  # ... and when the first code cell finished
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cell_started(self, index: int, cell_id: str, cells: int | None = None) -> None:
        """``cells``: the executed notebook's count (papermill adds the parameters cell)."""
        with self.lock:
            self.cell = (index, cell_id)
            self.cells = cells or self.cells
            if self.first_cell is None:
                self.first_cell = time.monotonic()

    def cell_done(self, code: bool) -> None:
        """A cell finished; the first code cell waits for the kernel's warm-up imports."""
        with self.lock:
            if code and self.first_code_done is None:
                self.first_code_done = time.monotonic()

    def heard(self) -> None:
        with self.lock:
            self.last_line = time.monotonic()


class ProgressEcho:
    """A file-like sink for the kernel's stderr: repeats progress lines on the terminal."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.startswith(PROGRESS_PREFIX):
                print(line, file=sys.stderr, flush=True)
                self.state.heard()
        return len(text)

    def flush(self) -> None:
        pass


class Heartbeat(threading.Thread):
    """Says which cell runs whenever the terminal has heard nothing for a while."""

    def __init__(self, state: RunState, every: float = HEARTBEAT_SECONDS) -> None:
        super().__init__(daemon=True)
        self.state, self.every = state, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(min(1.0, self.every / 4)):
            now = time.monotonic()
            with self.state.lock:
                quiet = now - self.state.last_line >= self.every
                cell, cells = self.state.cell, self.state.cells
            if quiet and cell is not None:
                say(
                    f"stage '{self.state.stage}': {now - self.state.started:.0f} s, "
                    f"running cell {cell[0] + 1} of {cells} ('{cell[1]}')"
                )
                self.state.heard()

    def stop(self) -> None:
        self.stopped.set()
