"""Developer and CI tools, outside the helper package the notebooks import.

- ``python -m tools.bench`` (``make bench``): each stage as a notebook against
  the same code as a plain script, and a no-op ``dvc repro``;
- ``python -m tools.bench_exp`` (``make bench-exp``): queued experiments
  against the same ones run one after another;
- :mod:`tools.expqueue`: start DVC's experiment queue, wait with a limit,
  always stop its workers (the benchmark and the tests use it);
- :mod:`tools.copies`: a copy of the project as a fresh clone holds it.
"""
