"""Helpers for the notebook pipeline: the notebooks orchestrate, this package computes.

Grouped by who uses them:

- :mod:`nbml.steps` — what the stage notebooks call: load and check data,
  features, the model, evaluation, exploratory tables;
- :mod:`nbml.reporting` — figures, HTML reports, the pipeline graph, the
  comparison page and the pull-request report;
- :mod:`nbml.runner` — what runs a stage: papermill and the kernel, the
  parameter checks, stable notebook files, the project's Jupyter setup;
- :mod:`nbml.project` (paths and params from dvc.yaml and params.yaml),
  :mod:`nbml.errors` and :mod:`nbml.messages` are shared by all three.

Developer and CI tools (benchmarks, the experiment-queue driver) live in the
repository's ``tools/`` folder, outside this package.
"""

__version__ = "0.1.0"
