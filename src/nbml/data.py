"""Load the source dataset, check it is fit for training, split it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split


class DataError(ValueError):
    """The dataset cannot be used as given; the message lists every problem."""

    def __init__(self, where: str, problems: list[str]):
        self.where = where
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{where}: {len(problems)} problem(s):\n{lines}")


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


def _sklearn(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame.copy()
        # class names instead of 0/1/2, so reports and metrics read naturally
        frame["target"] = pd.Categorical.from_codes(bunch.target, bunch.target_names).astype(str)
        return frame

    return load


# Datasets that ship inside installed packages: no download, work offline.
BUNDLED: dict[str, Callable[[], pd.DataFrame]] = {
    "penguins": _penguins,
    "iris": _sklearn("iris"),
    "wine": _sklearn("wine"),
    "breast_cancer": _sklearn("breast_cancer"),
}


def load_source(source: str) -> pd.DataFrame:
    """Load a bundled dataset by name."""
    if source in BUNDLED:
        return BUNDLED[source]()
    raise DataError(
        "params.yaml data.source",
        [f"unknown dataset '{source}'; bundled datasets: {', '.join(BUNDLED)}"],
    )


def check_dataset(
    df: pd.DataFrame, target: str, test_size: float, min_rows_per_class: int, where: str
) -> pd.DataFrame:
    """Return the rows with a label, or raise DataError listing every problem found."""
    problems: list[str] = []
    if df.empty:
        raise DataError(where, ["the dataset has no rows"])
    if target not in df.columns:
        cols = ", ".join(map(str, df.columns[:30]))
        raise DataError(where, [f"target column '{target}' not found; columns are: {cols}"])
    labelled = df[df[target].notna()].reset_index(drop=True)
    counts = labelled[target].value_counts()
    if len(counts) < 2:
        found = ", ".join(map(str, counts.index)) or "none"
        problems.append(
            f"target '{target}' needs at least 2 classes to train a classifier (found: {found})"
        )
    small = counts[counts < max(min_rows_per_class, 2)]
    for label, n in small.items():
        problems.append(
            f"class '{label}' of target '{target}' has {n} row(s); at least "
            f"{max(min_rows_per_class, 2)} are needed (prepare.min_rows_per_class)"
        )
    n_test = int(round(len(labelled) * test_size))
    if len(counts) >= 2 and n_test < len(counts):
        problems.append(
            f"prepare.test_size={test_size} gives {n_test} test rows for {len(counts)} "
            "classes; a stratified split needs at least one test row per class"
        )
    features = [c for c in df.columns if c != target]
    if not features:
        problems.append("no feature columns besides the target")
    if problems:
        raise DataError(where, problems)
    return labelled


def split(
    df: pd.DataFrame, target: str, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified train/test split, reproducible from the seed."""
    train, test = train_test_split(
        df, test_size=test_size, random_state=seed, stratify=df[target]
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    """Write a frame as Parquet, creating the folder (DVC removes outs before a run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    return path


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file written by an upstream stage."""
    return pd.read_parquet(path)


def split_xy(df: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Features and labels of a prepared frame."""
    return df.drop(columns=[target]), df[target].astype(str)
