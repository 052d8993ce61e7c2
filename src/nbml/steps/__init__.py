"""The ML steps the stage notebooks call, one module per concern.

- :mod:`~nbml.steps.data`: load the source (bundled or a file under the raw
  folder), read CSV files in their dialect, check the target, split;
- :mod:`~nbml.steps.validate`: check a source table, every problem at once;
- :mod:`~nbml.steps.features`: which columns are features, and how they are
  preprocessed;
- :mod:`~nbml.steps.model`: the estimator from params.yaml, skops model files;
- :mod:`~nbml.steps.evaluation`: metrics and plot data;
- :mod:`~nbml.steps.eda`: tables of the exploratory report.

A stage's dvc.yaml ``deps`` list the modules of this package its notebook
imports, directly or through another module.
"""
