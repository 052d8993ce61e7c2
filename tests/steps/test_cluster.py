"""The Dask backend (compute.scheduler) on a LocalCluster on loopback.

One cluster for the module (two one-thread workers): a LocalCluster starts in
about two seconds, more than most of these tests take. Each test compares the
cluster's answer with the single-machine one on the same data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbml.errors import ClusterError, DataError, ModelError
from nbml.steps import baseline, compute, data, eda, evaluation, kinds, regression, validate
from nbml.steps.feature_types import infer_feature_types
from nbml.steps.features import build_preprocessor
from nbml.steps.model import (
    compose,
    fit_estimator,
    load_model,
    make_estimator,
    preprocess,
    save_model,
)
from tools.loopback import free_port

METRICS = ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc_ovr", "log_loss"]
LGBM = "lightgbm.LGBMClassifier"
LGBM_KWARGS = {"n_estimators": 40, "num_leaves": 15, "random_state": 42}


def table(n: int, seed: int = 0) -> pd.DataFrame:
    """A three-class table with numbers, a category, gaps, and rows sorted by class."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    colour = rng.choice(["red", "green", "blue"], n)
    score = x[:, 0] + 0.5 * x[:, 1] + (colour == "red") * 0.8 + rng.normal(scale=0.5, size=n)
    label = np.array(["low", "mid", "high"])[np.digitize(score, [-0.5, 0.7])]
    df = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "colour": colour, "label": label})
    df.loc[rng.random(n) < 0.03, "b"] = np.nan
    # sorted by class, as exported tables often are: a worker may see one class only
    return df.sort_values("label", kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def cluster():
    backend = compute.start("local", 2, "1GiB")
    yield backend
    compute.stop()


@pytest.fixture(scope="module")
def csv_source(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("project")
    (root / "raw").mkdir()
    table(6000).to_csv(root / "raw" / "t.csv", index=False)
    return root, root / "raw" / "t.csv"


def test_scheduler_values_are_checked_with_a_clear_message():
    assert compute.scheduler_problems(None) == []
    assert compute.scheduler_problems("local") == []
    assert compute.scheduler_problems("tcp://127.0.0.1:8786") == []
    (problem,) = compute.scheduler_problems("127.0.0.1:8786")
    assert "compute.scheduler" in problem and "tcp://127.0.0.1:8786" in problem
    with pytest.raises(ClusterError, match="compute.scheduler"):
        compute.start("laptop")


def test_no_scheduler_keeps_pandas_and_starts_nothing(csv_source):
    root, _ = csv_source
    backend = compute.start(None)
    assert backend.client is None and "pandas" in backend.describe()
    assert isinstance(data.load_source("raw/t.csv", root=root, raw_dir="raw"), pd.DataFrame)


def test_a_scheduler_nobody_runs_is_named():
    unused_tcp_port = free_port()
    with pytest.raises(ClusterError, match=rf"tcp://127.0.0.1:{unused_tcp_port}.*dask scheduler"):
        compute.start(f"tcp://127.0.0.1:{unused_tcp_port}")


def test_a_sklearn_estimator_is_refused_naming_the_dask_ones(cluster):
    with pytest.raises(ModelError, match="HistGradientBoostingClassifier.*lightgbm.LGBMClassifier"):
        make_estimator("sklearn.ensemble.HistGradientBoostingClassifier", {})


def test_the_params_check_refuses_it_before_any_stage_runs(monkeypatch):
    from nbml.runner import checks

    project = type("P", (), {"params": {"train": {"estimator": "sklearn.svm.SVC"}}})()
    problems = checks._check_compute({"scheduler": "local"}, project)
    assert len(problems) == 1 and "lightgbm.dask.DaskLGBMClassifier" in problems[0]
    assert checks._check_compute({"scheduler": None}, project) == []
    bad = checks._check_compute({"scheduler": "local", "worker_memory": "lots"}, project)
    assert "compute.worker_memory" in bad[0]


def test_csv_is_read_on_the_cluster_in_its_dialect(cluster, csv_source):
    root, path = csv_source
    frame = data.load_source("raw/t.csv", root=root, raw_dir="raw")
    assert compute.is_dask(frame)
    assert data.describe(frame).startswith("raw/t.csv (delimiter ','")
    local = data.read_csv(path)
    back = frame.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(back, local, check_dtype=False)


def test_the_same_problems_are_found_on_the_cluster(cluster, tmp_path):
    df = table(3000)
    df["empty"] = np.nan
    df["mixed"] = df["colour"].where(np.arange(len(df)) % 97 != 0, "12")
    df["ratio"] = np.where(np.arange(len(df)) % 500 == 3, np.inf, 1.5)
    (tmp_path / "raw").mkdir()
    df.to_csv(tmp_path / "raw" / "bad.csv", index=False)
    frame = data.load_source("raw/bad.csv", root=tmp_path, raw_dir="raw")
    drop = ["colur"]  # a typo: told on both, with the column it meant
    with pytest.raises(DataError) as on_cluster:
        validate.validate_source(frame, "raw/bad.csv", "label", 0.25, 10, drop=drop)
    with pytest.raises(DataError) as alone:
        local = data.read_csv(tmp_path / "raw" / "bad.csv")
        validate.validate_source(local, "raw/bad.csv", "label", 0.25, 10, drop=drop)
    heads = sorted(p.split(":")[0] + p.split(":")[1] for p in on_cluster.value.problems)
    assert heads == sorted(p.split(":")[0] + p.split(":")[1] for p in alone.value.problems)
    assert any("mixed types" in p and "31 number" in p for p in on_cluster.value.problems)
    assert "column 'ratio': infinite values: 6 inf or -inf, which" in on_cluster.value.problems[-1]
    meant = "'colur', which the data does not have (did you mean 'colour'?)"
    assert any(meant in p for p in on_cluster.value.problems)


def test_a_csv_cut_short_in_its_last_row_is_refused_on_the_cluster(cluster, tmp_path):
    (tmp_path / "raw").mkdir()
    rows = "".join(f"{i},{i * 1.5},{'x' if i % 2 else 'y'}\n" for i in range(40))
    (tmp_path / "raw" / "cut.csv").write_text("label,size,kind\n" + rows + "1,45.8")
    with pytest.raises(DataError) as err:
        data.load_source("raw/cut.csv", root=tmp_path, raw_dir="raw")
    assert (
        "the last line has 2 of the header's 3 fields and the file ends without a line break "
        "('1,45.8'): it looks cut short" in str(err.value)
    )
    (tmp_path / "raw" / "whole.csv").write_text("label,size,kind\n" + rows + "1,45.8,x")
    assert len(data.load_source("raw/whole.csv", root=tmp_path, raw_dir="raw")) == 41


def test_a_named_parquet_index_is_a_column_on_the_cluster_as_on_one_machine(cluster, tmp_path):
    (tmp_path / "raw").mkdir()
    df = table(600).assign(when=pd.date_range("2020-01-01", periods=600, freq="h"))
    df.set_index("when").to_parquet(tmp_path / "raw" / "series.parquet")
    df.set_index(["colour", "when"]).to_parquet(tmp_path / "raw" / "levels.parquet")
    for name in ("series.parquet", "levels.parquet"):
        frame = data.load_source(f"raw/{name}", root=tmp_path, raw_dir="raw")
        local = data.read_source_file(tmp_path / "raw" / name)
        assert list(frame.columns) == list(local.columns)
        back = frame.compute().reset_index(drop=True)
        pd.testing.assert_frame_equal(back, local, check_dtype=False)


def test_a_class_too_small_is_refused_on_the_cluster(cluster):
    df = table(400)
    df.loc[:2, "label"] = "rare"
    frame = compute_frame(df, 3)
    with pytest.raises(DataError, match="class 'rare' of target 'label' has 3 row"):
        validate.validate_source(frame, "t", "label", 0.25, 10)


def test_a_quantity_target_is_named_on_the_cluster_as_on_one_machine(cluster):
    df = table(400)
    df["label"] = np.arange(len(df)) * 0.5  # 400 distinct values: a quantity
    with pytest.raises(DataError, match="data.task: classification makes each value") as alone:
        validate.validate_source(df, "t", "label", 0.25, 10)
    with pytest.raises(DataError) as on_cluster:
        validate.validate_source(compute_frame(df, 3), "t", "label", 0.25, 10)
    assert on_cluster.value.problems == alone.value.problems


def quantity_table(n: int, seed: int = 3) -> pd.DataFrame:
    """The classification table with a quantity to predict instead of the label."""
    df = table(n, seed).drop(columns="label")
    rng = np.random.default_rng(seed)
    df["price"] = 3 * df["a"] - df["c"] + (df["colour"] == "red") + rng.normal(scale=0.3, size=n)
    return df


@pytest.fixture(scope="module")
def regressed(cluster, tmp_path_factory):
    """Prepare's, train's and evaluate's calls for a quantity on the cluster."""
    tmp = tmp_path_factory.mktemp("regressed")
    frame = compute_frame(quantity_table(6000), 4)
    labelled = validate.validate_source(frame, "t", "price", 0.25, 10, task="regression")
    train, test = data.split(labelled, "price", 0.25, 42, "regression")
    data.write_parquet(train, tmp / "train.parquet")
    data.write_parquet(test, tmp / "test.parquet")
    rows = data.read_parquet(tmp / "train.parquet")
    X, y = data.split_xy(rows, "price", "regression")
    preprocessor = build_preprocessor(infer_feature_types(rows, "price")).fit(data.client_rows(X))
    regressor = make_estimator("lightgbm.LGBMRegressor", LGBM_KWARGS, "regression")
    fit_estimator(regressor, preprocess(preprocessor, X), y)
    path = save_model(compose(preprocessor, regressor), tmp / "model.skops")
    X_test, y_test = data.split_xy(data.read_parquet(tmp / "test.parquet"), "price", "regression")
    model = load_model(path)
    return model, X_test, y_test, pd.read_parquet(tmp / "test.parquet"), rows


def test_a_quantity_trains_on_the_cluster_into_a_single_machine_regressor(regressed):
    model, _, _, local, _ = regressed
    assert type(model.steps[-1][1]).__name__ == "LGBMRegressor"
    X, y = data.split_xy(local, "price", "regression")
    assert regression.compute_metrics(y, model.predict(X), ["r2"])["r2"] > 0.8


def test_regression_metrics_on_the_cluster_are_those_of_one_machine(regressed, monkeypatch):
    model, X_test, y_test, local, _ = regressed
    predicted = regression.predict(model, X_test)
    assert compute.is_dask(predicted)
    names = list(regression.METRICS)
    on_cluster = regression.compute_metrics(y_test, predicted, names)
    X_l, y_l = data.split_xy(local, "price", "regression")
    alone = regression.compute_metrics(y_l, model.predict(X_l), names)
    assert on_cluster == pytest.approx(alone, abs=2e-6)
    # the median absolute error is exact, not approximated
    assert on_cluster["median_absolute_error"] == alone["median_absolute_error"]
    pd.testing.assert_frame_equal(
        regression.error_by_quantile(y_test, predicted),
        regression.error_by_quantile(y_l, model.predict(X_l)),
        atol=2e-6,
    )
    mean = float(y_l.mean())
    assert baseline.mean_baseline(y_l, y_test)["metrics"] == pytest.approx(
        baseline.mean_baseline(y_l, y_l)["metrics"], abs=2e-6
    )
    assert len(regression.predicted_actual_rows(y_test, predicted, 42)) == len(y_l)  # < 2,000
    monkeypatch.setattr(regression, "MAX_PLOT_POINTS", 500)
    versus = regression.predicted_actual_rows(y_test, predicted, 42)
    assert len(versus) == 500 and versus["actual"].min() < mean < versus["actual"].max()
    pairs = set(zip(y_l.round(9), model.predict(X_l).round(9), strict=True))
    assert set(zip(versus["actual"].round(9), versus["predicted"].round(9), strict=True)) <= pairs


def test_the_quantity_is_summarised_on_the_cluster_as_on_one_machine(regressed):
    *_, rows = regressed
    on_cluster = eda.target_summary(rows, "price")
    pd.testing.assert_frame_equal(on_cluster, eda.target_summary(rows.compute(), "price"))


def test_exact_order_statistics_of_values_on_the_workers(cluster, monkeypatch):
    import dask

    from nbml.steps import cluster as on_cluster

    monkeypatch.setattr(on_cluster, "RANK_ROWS", 500)  # several refinement rounds
    rng = np.random.default_rng(5)
    values = np.concatenate([np.zeros(20_000), rng.exponential(size=30_001) * 1e6])
    parts = [dask.delayed(np.asarray)(p) for p in np.array_split(rng.permutation(values), 5)]
    ranks = [0, 20_000, 25_000, len(values) - 1]
    found = on_cluster.order_statistics(parts, ranks, "values")
    assert [found[k] for k in ranks] == list(np.sort(values)[ranks])
    shares = np.linspace(0, 1, 5)
    quantiles = on_cluster.quantiles(parts, len(values), shares, "values")
    np.testing.assert_allclose(quantiles, np.quantile(values, shares), rtol=1e-12)


def test_a_target_encoding_is_refused_on_the_cluster(cluster):
    from nbml.steps.model import training_matrix

    df = table(600)
    df["city"] = [f"c{i % 150}" for i in range(len(df))]
    X, y = data.split_xy(df, "label")
    types = infer_feature_types(df, "label")
    preprocessor = build_preprocessor(types, target_encode_above=100, y=y).fit(X, y)
    with pytest.raises(ModelError, match="featurize.target_encode_above: null"):
        training_matrix(preprocessor, compute_frame(X, 2), compute_frame(y.to_frame(), 2)["label"])


def compute_frame(df: pd.DataFrame, partitions: int):
    import dask.dataframe as dd

    return dd.from_pandas(df, npartitions=partitions, sort=False)


def test_the_split_is_the_same_on_every_run_and_partitioning(cluster):
    df = table(5000)
    first = [part.compute() for part in data.split(compute_frame(df, 4), "label", 0.25, 42)]
    again = [part.compute() for part in data.split(compute_frame(df, 4), "label", 0.25, 42)]
    other = [part.compute() for part in data.split(compute_frame(df, 7), "label", 0.25, 42)]
    for a, b, c in zip(first, again, other, strict=True):
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(a.reset_index(drop=True), c.reset_index(drop=True))
    train, test = first
    assert len(train) + len(test) == len(df) and abs(len(test) / len(df) - 0.25) < 0.03
    shares = test["label"].value_counts(normalize=True) - df["label"].value_counts(normalize=True)
    assert shares.abs().max() < 0.03  # stratified in expectation
    seeded = data.split(compute_frame(df, 4), "label", 0.25, 7)[1].compute()
    assert not seeded.index.equals(test.index)


def test_prepare_sample_on_the_cluster_says_what_it_keeps(cluster, capfd):
    frame = compute_frame(table(2000), 3)
    kept = data.sample_source(frame, "label", 500, seed=42)
    assert (
        "nbml progress: prepare.sample=500: a seeded 25.00% of each partition's rows of "
        "2,000 kept" in capfd.readouterr().err
    )
    assert 400 < len(kept) < 600
    assert data.sample_source(frame, "label", 5000, seed=42) is frame
    assert "prepare.sample=5000: every row kept (the table has 2,000)" in capfd.readouterr().err


def test_a_sample_too_small_for_a_class_names_prepare_sample_on_the_cluster(cluster):
    # as on one machine (test_data.py): the source has enough of each class, the sample not
    df = pd.DataFrame({"x": range(2000), "y": ["a"] * 1960 + ["rare"] * 40})
    frame = compute_frame(df, 4)
    with pytest.raises(data.DataError) as caught:
        data.sample_source(frame, "y", 0.05, seed=1, min_rows_per_class=10)
    message = str(caught.value)
    assert "params.yaml prepare.sample=0.05" in message
    assert "class 'rare' of target 'y':" in message and "of its 40 rows kept" in message
    assert "set prepare.sample: null" in message
    kept = data.sample_source(frame, "y", 0.9, seed=1, min_rows_per_class=10)
    assert 1700 < len(kept) < 1900
    # a regression target has no classes to check
    quantity = compute_frame(pd.DataFrame({"x": range(2000), "y": range(2000)}), 4)
    assert 50 < len(data.sample_source(quantity, "y", 0.05, 1, "regression", 10)) < 150


def test_prepared_splits_are_partitioned_parquet_datasets(cluster, tmp_path):
    train, _ = data.split(compute_frame(table(2000), 3), "label", 0.25, 42)
    out = data.write_parquet(train, tmp_path / "prepared" / "train.parquet")
    assert out.is_dir() and len(list(out.glob("*.parquet"))) == 3
    # the pandas path reads the folder too (the service's schema, bounded samples)
    assert len(pd.read_parquet(out)) == len(train)
    assert len(data.sample_rows(data.read_parquet(out), 500)) <= 550


def test_a_boolean_with_gaps_in_a_decimal_comma_csv_is_split_and_written_on_the_cluster(
    cluster, tmp_path
):
    # true/false with empty cells: an object column of True, False and NaN, which Dask's
    # made-up meta row cannot type for Parquet (pyarrow: 'Could not convert <object object>')
    df = table(3000).assign(aktiv=lambda d: np.where(d["a"] > 0, "true", "false"))
    df.loc[::40, "aktiv"] = ""
    (tmp_path / "raw").mkdir()
    df.to_csv(tmp_path / "raw" / "de.csv", sep=";", decimal=",", index=False)
    frame = data.load_source("raw/de.csv", root=tmp_path, raw_dir="raw")
    train, test = data.split(frame, "label", 0.25, 42)
    written = pd.concat(
        pd.read_parquet(data.write_parquet(part, tmp_path / "prepared" / name))
        for part, name in ((train, "train.parquet"), (test, "test.parquet"))
    )
    local = data.read_csv(tmp_path / "raw" / "de.csv")
    assert written["a"].sort_values().tolist() == local["a"].sort_values().tolist()
    assert written["aktiv"].value_counts(dropna=False).to_dict() == {
        **local["aktiv"].value_counts().to_dict(),
        None: 75,
    }


@pytest.fixture(scope="module")
def trained(cluster, tmp_path_factory):
    """The train and evaluate stages' calls on the cluster, and the same data on one machine."""
    tmp = tmp_path_factory.mktemp("trained")
    df = table(8000, seed=1)
    train, test = data.split(compute_frame(df, 4), "label", 0.25, 42)
    data.write_parquet(train, tmp / "train.parquet")
    data.write_parquet(test, tmp / "test.parquet")
    rows = data.read_parquet(tmp / "train.parquet")
    types = infer_feature_types(rows, "label")
    X, y = data.split_xy(rows, "label")
    preprocessor = build_preprocessor(types).fit(data.client_rows(X))
    models = []
    for run in range(2):
        classifier = make_estimator(LGBM, LGBM_KWARGS)
        fit_estimator(classifier, preprocess(preprocessor, X), y)
        models.append(save_model(compose(preprocessor, classifier), tmp / f"model{run}.skops"))
    return tmp, models, preprocessor


def test_two_fits_on_the_cluster_save_the_same_bytes(trained):
    _, (first, second), _ = trained
    assert first.read_bytes() == second.read_bytes()
    assert b"127.0.0.1" not in first.read_bytes()


def test_the_saved_model_is_a_single_machine_pipeline(trained):
    tmp, (path, _), _ = trained
    model = load_model(path)
    assert type(model).__name__ == "Pipeline"
    assert type(model.steps[-1][1]).__name__ == "LGBMClassifier"
    assert sorted(model.classes_) == ["high", "low", "mid"]
    X_test, _ = data.split_xy(pd.read_parquet(tmp / "test.parquet"), "label")
    proba = model.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(model.predict(X_test)) == list(model.classes_[proba.argmax(axis=1)])


def test_metrics_on_the_cluster_match_the_same_predictions_on_one_machine(trained):
    tmp, (path, _), _ = trained
    model = load_model(path)
    X, y = data.split_xy(data.read_parquet(tmp / "test.parquet"), "label")
    proba, predicted = evaluation.predict(model, X)
    on_cluster = evaluation.compute_metrics(y, predicted, proba, model.classes_, METRICS)
    local = pd.read_parquet(tmp / "test.parquet")
    X_l, y_l = data.split_xy(local, "label")
    alone = evaluation.compute_metrics(
        y_l, model.predict(X_l), model.predict_proba(X_l), model.classes_, METRICS
    )
    for name in ("accuracy", "balanced_accuracy", "f1_macro"):
        assert on_cluster[name] == pytest.approx(alone[name], abs=1e-6)
    assert on_cluster["log_loss"] == pytest.approx(alone["log_loss"], abs=1e-4)
    assert on_cluster["roc_auc_ovr"] == pytest.approx(alone["roc_auc_ovr"], abs=2e-3)
    confusion = evaluation.confusion_counts(y, predicted, model.classes_)
    expected = evaluation.confusion_counts(y_l, model.predict(X_l), model.classes_)
    pd.testing.assert_frame_equal(confusion, expected)
    roc = evaluation.roc_rows(y, proba, model.classes_)
    assert set(roc["class"]) == set(model.classes_) and len(roc) <= 3 * 202


def test_accuracy_on_the_cluster_is_within_001_of_one_machine(trained):
    tmp, (path, _), preprocessor = trained
    local_train = pd.read_parquet(tmp / "train.parquet")
    local_test = pd.read_parquet(tmp / "test.parquet")
    import lightgbm

    alone = compose(preprocessor, lightgbm.LGBMClassifier(**LGBM_KWARGS, verbose=-1))
    alone.fit(*data.split_xy(local_train, "label"))
    X, y = data.split_xy(local_test, "label")
    assert load_model(path).score(X, y) == pytest.approx(alone.score(X, y), abs=0.01)


def test_workers_read_a_table_from_s3_and_check_and_split_it(cluster, monkeypatch):
    """S3 through s3fs, against moto's server on 127.0.0.1 (credentials travel with the tasks)."""
    import dask.dataframe as dd
    from moto.server import ThreadedMotoServer

    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        options = {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {
                "endpoint_url": f"http://127.0.0.1:{port}",
                "region_name": "us-east-1",
            },
        }
        import boto3

        boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket="nbml-data")
        df = table(3000)
        df.to_parquet("s3://nbml-data/t.parquet", storage_options=options, row_group_size=1000)
        frame = dd.read_parquet("s3://nbml-data/t.parquet", storage_options=options)
        labelled = validate.validate_source(frame, "s3://nbml-data/t.parquet", "label", 0.25, 10)
        train, test = data.split(labelled, "label", 0.25, 42)
        assert len(train) + len(test) == len(df)
        assert compute.small(test["label"].value_counts()).sum() == len(test)
    finally:
        server.stop()


def test_the_service_answers_with_the_model_trained_on_the_cluster(trained):
    from nbml.serving.predictor import Predictor, check_rows
    from nbml.serving.schema import feature_specs

    tmp, (path, _), _ = trained
    model = load_model(path)
    train = pd.read_parquet(tmp / "train.parquet")
    columns = [c for c in train.columns if c != "label"]
    specs = feature_specs(train, columns, set(columns), {"colour"})
    predictor = Predictor(model, specs)
    predictor.self_check(train.head(50))  # keeps a fast path only if it answers the same
    rows = check_rows(train.head(20), specs)
    labels, proba = predictor.predict(rows)
    expected_labels, expected_proba = predictor.reference(rows)
    assert labels == expected_labels and set(labels) <= set(model.classes_)
    np.testing.assert_array_equal(proba, expected_proba)


def _spill_listener(dask_worker) -> None:
    import logging
    import logging.handlers

    handler = logging.handlers.BufferingHandler(10_000)
    logging.getLogger("distributed.spill").addHandler(handler)
    dask_worker.nbml_spill_log = handler


def _spill_log(dask_worker) -> list[str]:
    return [record.getMessage() for record in dask_worker.nbml_spill_log.buffer]


def _spilled(dask_worker) -> int:
    return len(dask_worker.data.slow)


def test_workers_with_less_memory_than_the_table_train_without_spilling_the_socket(cluster):
    """Workers that can hold 0.6 MB of data each (a 4.5 MB table): the table is spilled to their
    disks, and LightGBM trains without Dask trying to spill its port-holding socket, which
    cannot be pickled (the fit hung on 800 MiB workers at 10^6 rows)."""
    import dask
    from distributed import Client, LocalCluster, wait

    from nbml.steps import distributed_model

    df = table(100_000)  # about 4.5 MB in pandas
    small = {
        "distributed.worker.memory.target": 0.6,  # spill data beyond 60% of 1 MiB ...
        "distributed.worker.memory.spill": False,  # ... and leave the process's own memory be
        "distributed.worker.memory.pause": False,
        "distributed.worker.memory.terminate": False,
    }
    with (
        dask.config.set(small),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit="1MiB",
        ) as local,
        Client(local) as client,
    ):
        client.run(_spill_listener)
        frame = compute_frame(df, 8).persist()
        wait(frame)
        X, y = data.split_xy(frame, "label")
        spilled = client.run(_spilled)
        assert sum(spilled.values()) > 0, f"nothing spilled: {spilled}"  # the table does not fit
        preprocessor = build_preprocessor(infer_feature_types(df, "label")).fit(df.head(2000))
        classifier = distributed_model.make_estimator(LGBM, LGBM_KWARGS)
        fit_estimator(classifier, preprocess(preprocessor, X), y)
        logs = [m for messages in client.run(_spill_log).values() for m in messages]
    model = compose(preprocessor, classifier)
    score = model.score(*data.split_xy(df, "label"))
    assert score > 0.6, f"accuracy {score:.3f} on the training table"
    assert not [m for m in logs if "pickle" in m], logs[:3]


def test_a_worker_lost_during_the_fit_cancels_what_lightgbm_submitted(monkeypatch):
    from nbml.steps import distributed_model

    class Placing:  # the fit's client, after worker b left the cluster
        _workers = ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"]
        submitted = ["train-part-a", "train-part-b"]
        cancelled: list = []

        def scheduler_info(self):
            return {"workers": {"tcp://127.0.0.1:1": {}}}

        def cancel(self, futures, force):
            self.cancelled.append((list(futures), force))

    monkeypatch.setattr(distributed_model, "WATCH_SECONDS", 0.01)
    placing = Placing()
    with distributed_model._Watch(placing) as watch:
        watch.thread.join(timeout=30)  # a guard: it ends as soon as it sees the loss
    assert watch.lost == ["tcp://127.0.0.1:2"]
    assert placing.cancelled == [(["train-part-a", "train-part-b"], True)]


def test_the_majority_baseline_on_the_cluster_is_that_of_one_machine(cluster):
    df = table(3000).sample(frac=1, random_state=0)
    train, test = df.iloc[:2000], df.iloc[2000:]
    classes = np.array(sorted(df["label"].unique()))
    alone = baseline.majority_baseline(train["label"], test["label"], classes, METRICS)
    on_cluster = baseline.majority_baseline(
        train["label"], compute_frame(test, 3)["label"], classes, METRICS
    )
    assert on_cluster == {**alone, "metrics": pytest.approx(alone["metrics"], abs=1e-6)}


def _pause_above(fraction: float, dask_worker=None) -> None:
    # the worker's own memory monitor pauses it above this share of its limit
    dask_worker.memory_manager.memory_pause_fraction = fraction


def test_workers_paused_at_their_memory_limit_stop_the_stage_naming_the_param(
    cluster, monkeypatch, capfd
):
    from nbml.steps import cluster as on_cluster

    monkeypatch.setattr(on_cluster, "WATCH_SECONDS", 0.2)
    monkeypatch.setattr(on_cluster, "PAUSED_SECONDS", 1.0)
    frame = compute_frame(table(2000), 4)
    client = cluster.client
    client.run(_pause_above, 0.001)  # every worker is above 0.1% of its limit
    try:
        with pytest.raises(ClusterError, match="paused at its memory limit.*compute.worker_memory"):
            on_cluster.computed("the training split", frame["a"].sum())
        assert "every worker is paused" in capfd.readouterr().err
    finally:
        client.run(_pause_above, 0.8)
    # once a worker runs again, the same work finishes
    (total,) = on_cluster.computed("the training split", frame["a"].sum())
    assert total == pytest.approx(table(2000)["a"].sum())


def _times_out() -> None:
    raise TimeoutError("the source's storage did not answer")


def test_a_timeout_of_the_work_itself_is_its_error_not_a_wait_to_repeat(cluster):
    import dask

    from nbml.steps import cluster as on_cluster

    with pytest.raises(TimeoutError, match="storage did not answer"):
        on_cluster.computed("the training split", dask.delayed(_times_out)())


def test_integer_keys_are_counted_on_every_row_on_the_cluster(cluster):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"row_id": rng.permutation(4000) + 1, "visits": rng.integers(0, 4000, 4000), "label": "a"}
    )
    found = kinds.source_keys(compute_frame(df, 3), "label")
    assert found == kinds.source_keys(df, "label")  # the same verdict and words as pandas
    assert list(found) == ["row_id"] and "on all 4,000 rows of the source" in found["row_id"]
