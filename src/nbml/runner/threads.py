"""How many threads a stage's kernel may use when experiments run side by side.

``dvc queue start -j N`` runs N experiments at once, each stage of each in
its own kernel. scikit-learn's HistGradientBoosting (and numpy's BLAS) start
one OpenMP thread per core in every one of them, so N jobs on C cores run
N x C threads, which is many times slower than C (scikit-learn #16429).
The runner therefore gives each queued stage cores / jobs threads through
the environment the kernel inherits. A value the user set wins.

How idle OpenMP threads wait is chosen per stage, from what the other work
on the machine did in the moment before the stage started (the runner's
own start-up, about 0.2-0.4 s, read from ``/proc/stat`` minus the runner's
own CPU time; :func:`wait_policy`):

- the other processes used less than the cores the stage's threads leave
  free (plus half a core): idle threads **spin** (libgomp's default, what a
  plain script gets: nothing is set);
- they used more, or a queued experiment runs beside other experiments, or
  the machine's use cannot be read: idle threads **sleep**
  (``OMP_WAIT_POLICY=PASSIVE``);
- ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` set by the user always wins.

Why: an idle OpenMP thread spins waiting for the next parallel region, and
HistGradientBoosting has thousands of short ones. When the cores are free,
spinning is the fast choice: fitting it on 75,000 rows of the bench-scale
table took 4.8 s spinning (``ACTIVE``) and 11.7 s sleeping on a quiet
2-core machine. When other processes want the cores, the spinning threads
take the CPU from the ones doing the work: the same fit beside two busy
processes (load 6-10) took 678.6 s spinning (155 CPU s) and 29.4 s sleeping
(10.1 CPU s), and earlier fits 49-309 s against 5-10 s at a load of 5-15.
Load that arrives after the stage started is not seen (a run of the same fit
that started quiet took 167.7 s spinning). Figures and the A/B runs:
docs/performance.md ("Fixed costs and OpenMP threads").
The 1-minute load average is not used: after the previous stage of the
same ``dvc repro`` it still counts that stage's work for a minute.
"""

from __future__ import annotations

import os
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path

# The variables OpenMP and the BLAS libraries numpy may use read at start-up.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# DVC sets this in the environment of a queued (or --temp) experiment's commands.
EXPERIMENT_VARIABLE = "DVC_EXP_NAME"
# Each DVC queue worker runs as `dvc exp queue-worker dvc-exp-<id>-<n>@localhost`.
_WORKER_ARGUMENT = b"queue-worker"


# How idle OpenMP threads wait (OpenMP's standard variable: libgomp and libomp read it).
WAIT_VARIABLE = "OMP_WAIT_POLICY"
# Either one set by the user means the user chose how threads wait.
WAIT_CHOICES = (WAIT_VARIABLE, "GOMP_SPINCOUNT")
# Spin only when the other work leaves each of the stage's threads a core, with this slack.
SPARE_CORES = 0.5
# /proc/stat's first line: user nice system idle iowait irq softirq steal ...; idle and
# iowait are the time no process ran.
_IDLE_FIELDS = (3, 4)


@dataclass(frozen=True)
class CpuSample:
    """The machine's and this process's CPU seconds so far, at one moment."""

    wall: float  # time.monotonic()
    machine: float | None  # CPU seconds every process used (None: not readable)
    own: float  # this process's user + system seconds


def cpu_sample(stat: Path = Path("/proc/stat")) -> CpuSample:
    """Read the CPU time used so far, by the whole machine and by this process."""
    try:
        fields = [int(v) for v in stat.read_text().split("\n", 1)[0].split()[1:9]]
        busy = sum(v for i, v in enumerate(fields) if i not in _IDLE_FIELDS)
        machine: float | None = busy / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        machine = None
    times = os.times()
    return CpuSample(time.monotonic(), machine, times.user + times.system)


def others_busy(start: CpuSample, end: CpuSample) -> float | None:
    """Cores the other processes kept busy between two samples (None: unknown)."""
    elapsed = end.wall - start.wall
    if start.machine is None or end.machine is None or elapsed <= 0:
        return None
    return max(0.0, (end.machine - start.machine) - (end.own - start.own)) / elapsed


def wait_policy(
    environ: MutableMapping[str, str], busy: float | None, cores: int, threads: int
) -> str:
    """Choose how the stage's idle OpenMP threads wait; set it in ``environ``; describe it.

    ``busy``: cores the other processes used just before (None: unknown);
    ``threads``: the OpenMP threads the stage will run.
    """
    chosen = [f"{name}={environ[name]}" for name in WAIT_CHOICES if name in environ]
    if chosen:
        return f"as set ({', '.join(chosen)})"
    if EXPERIMENT_VARIABLE in environ and threads < cores:
        environ[WAIT_VARIABLE] = "PASSIVE"
        return "sleep (queued beside other experiments)"
    if busy is None:
        environ[WAIT_VARIABLE] = "PASSIVE"
        return "sleep (the machine's CPU use could not be read)"
    seen = f"other processes used {busy:.1f} of {cores} cores at the start"
    if busy + threads <= cores + SPARE_CORES:
        return f"spin ({seen})"
    environ[WAIT_VARIABLE] = "PASSIVE"
    return f"sleep ({seen})"


def openmp_threads(environ: MutableMapping[str, str]) -> int:
    """The OpenMP threads a kernel with this environment runs (OMP_NUM_THREADS, else all cores)."""
    try:
        return max(1, int(environ.get("OMP_NUM_THREADS", "").split(",")[0]))
    except ValueError:
        return usable_cores()


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def queue_workers(proc: Path = Path("/proc")) -> int:
    """DVC experiment-queue workers running on this machine (each runs one experiment).

    Every user's workers count: they share the same cores.
    """
    count = 0
    for cmdline in proc.glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:  # the process ended meanwhile
            continue
        count += _WORKER_ARGUMENT in args
    return count


def threads_per_job(cores: int, jobs: int) -> int:
    """cores / jobs, at least one."""
    return max(1, cores // max(jobs, 1))


def limit_threads(environ: MutableMapping[str, str], proc: Path = Path("/proc")) -> int | None:
    """Set the thread variables for a queued experiment's stage; the count set, or None."""
    if EXPERIMENT_VARIABLE not in environ or "OMP_NUM_THREADS" in environ:
        return None
    threads = threads_per_job(usable_cores(), queue_workers(proc))
    for name in THREAD_VARIABLES:
        environ.setdefault(name, str(threads))
    return threads
