"""How many threads a stage's kernel may use when experiments run side by side.

``dvc queue start -j N`` runs N experiments at once, each stage of each in
its own kernel. scikit-learn's HistGradientBoosting (and numpy's BLAS) start
one OpenMP thread per core in every one of them, so N jobs on C cores run
N x C threads, which is many times slower than C (scikit-learn #16429).
The runner therefore gives each queued stage cores / jobs threads through
the environment the kernel inherits. A value the user set wins.

Every stage's kernel also gets ``OMP_WAIT_POLICY=PASSIVE`` (unless set):
by default an idle OpenMP thread spins waiting for the next parallel
region, and when other processes share the cores (other stages, other
experiments, other users) the spinning threads take the CPU from the ones
doing the work. Fitting HistGradientBoosting on 30,000 rows took 49-309 s
that way on the project's shared 2-core machine, and 5-10 s with idle
threads sleeping (five runs each, alternated; docs/performance.md).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

# The variables OpenMP and the BLAS libraries numpy may use read at start-up.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# DVC sets this in the environment of a queued (or --temp) experiment's commands.
EXPERIMENT_VARIABLE = "DVC_EXP_NAME"
# Each DVC queue worker runs as `dvc exp queue-worker dvc-exp-<id>-<n>@localhost`.
_WORKER_ARGUMENT = b"queue-worker"


# How idle OpenMP threads wait (OpenMP's standard variable: libgomp and libomp read it).
WAIT_VARIABLE = "OMP_WAIT_POLICY"


def wait_passively(environ: MutableMapping[str, str]) -> str:
    """Let idle OpenMP threads sleep instead of spinning, unless the user chose; the policy."""
    return environ.setdefault(WAIT_VARIABLE, "PASSIVE")


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
