"""What runs a stage: ``python -m nbml.runner STAGE`` is every dvc.yaml ``cmd``.

- :mod:`~nbml.runner.stage`: one stage, from params to executed notebook and
  report, loud on failure;
- :mod:`~nbml.runner.kernel`: the project kernel, started early and warmed,
  and papermill's engine with fewer saves;
- :mod:`~nbml.runner.notebook`: notebook files (the parameters cell,
  stripping, stable executed output, the Jupyter save hook);
- :mod:`~nbml.runner.checks`: every parameter checked before any notebook runs;
- :mod:`~nbml.runner.timeline`: when each step of a run happened (the run record);
- :mod:`~nbml.runner.jupyter`: the kernel, JupyterLab and their settings,
  all inside the virtual environment.

Nothing is imported here: the runner process starts with as few imports as
possible (see ``stage.fast_imports``).
"""
