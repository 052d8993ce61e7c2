"""Every error the project raises on purpose, under one base class.

A caller that wants "anything nbml refused" catches :class:`NbmlError`; each
subclass also keeps the built-in base it always had (``ValueError`` for bad
input, ``RuntimeError`` for a run that did not finish), so code written
against those keeps working. Messages name the file, column or parameter at
fault and what was expected.
"""

from __future__ import annotations


class NbmlError(Exception):
    """Base of every error this project raises on purpose."""


class ProblemsError(NbmlError, ValueError):
    """Several problems found at once, listed one per line under a heading."""

    def __init__(self, where: str, problems: list[str]):
        self.where = where
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{where}: {len(problems)} problem(s):\n{lines}")


# -- project files and parameters ------------------------------------------------
class ConfigError(NbmlError, ValueError):
    """A project file (dvc.yaml, params.yaml) does not say what is needed."""


class ParamError(ConfigError):
    """params.yaml (or a path in dvc.yaml) holds a value the pipeline cannot use."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the project's parameters:\n{lines}")


# -- running a stage ---------------------------------------------------------------
class NotebookError(NbmlError, ValueError):
    """A source notebook cannot be run as a stage."""


class StageError(NbmlError, RuntimeError):
    """A stage could not run or did not finish; the message says where."""


# -- the ML steps ------------------------------------------------------------------
class DataError(ProblemsError):
    """The dataset cannot be used as given; the message lists every problem."""


class MemoryLimitError(NbmlError, RuntimeError):
    """A table would not fit in the memory available; refused before loading it."""


class FeatureError(NbmlError, ValueError):
    """A feature override in params.yaml names something that is not there."""


class TaskError(NbmlError, ValueError):
    """params.yaml data.task does not fit the target, or the recorded task is unreadable."""


class ModelError(NbmlError, ValueError):
    """The estimator in params.yaml, or a model file, cannot be used."""


class MetricError(NbmlError, ValueError):
    """params.yaml asks for a metric this project does not compute."""


class ClusterError(NbmlError, RuntimeError):
    """The Dask scheduler named in compute.scheduler cannot be used, or lost the work."""


# -- reports and developer tools -------------------------------------------------
class ReportError(NbmlError, ValueError):
    """A file the index summary reads is missing or not what a stage writes."""


class CompareError(NbmlError, RuntimeError):
    """DVC or git could not tell what to compare."""


class QueueTimeout(NbmlError, RuntimeError):
    """DVC's experiment queue did not finish in time; the message shows its last status."""


# -- serving the model -------------------------------------------------------------
class ServeError(NbmlError, RuntimeError):
    """The model cannot be served: missing, not recorded in dvc.lock, or not what it records."""


class ScoringError(NbmlError, ValueError):
    """A file given to batch scoring cannot be scored; the message names the column and row."""
