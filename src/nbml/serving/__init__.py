"""Serve the trained model over HTTP, and score files with it.

- :mod:`nbml.serving.loading` — the model that ``dvc.lock`` records, md5 checked, loaded with skops;
- :mod:`nbml.serving.schema` — the request contract, generated from the training split;
- :mod:`nbml.serving.predictor` — rows in, labels and probabilities out, identical to the model
  (:mod:`nbml.serving.trees` walks HistGradientBoosting's trees with numpy);
- :mod:`nbml.serving.batching` — concurrent requests answered by one ``predict`` call;
- :mod:`nbml.serving.app` (routes), :mod:`nbml.serving.v2` (Open Inference Protocol),
  :mod:`nbml.serving.page` (the try-it page), :mod:`nbml.serving.limits` (body limits);
- :mod:`nbml.serving.scoring` — batch scoring of CSV or Parquet files in chunks;
- ``python -m nbml.serving serve|score`` (``make serve``, ``make score``).
"""
