"""Only the model dvc.lock records is served: missing or different files are refused."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from nbml.errors import ServeError
from nbml.serving.service import Service
from nbml.serving.settings import Settings
from served import serve_env
from tools import loopback

MODEL = "data/models/model.skops"


def load(root):
    return Service.prepare(Settings(root)).load()


def test_the_recorded_model_loads(trained):
    assert load(trained).classes == ["Adelie", "Chinstrap", "Gentoo"]


def test_a_model_whose_md5_differs_from_dvc_lock_is_refused(trained_copy):
    path = trained_copy / MODEL
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ServeError, match="md5 .* differs from .* recorded by stage 'train'"):
        load(trained_copy)


def test_missing_model_and_unrecorded_model_are_refused(trained_copy):
    (trained_copy / MODEL).unlink()
    with pytest.raises(ServeError, match="no model file; run `dvc repro`"):
        load(trained_copy)
    lock = yaml.safe_load((trained_copy / "dvc.lock").read_text())
    lock["stages"]["train"]["outs"] = []
    (trained_copy / "dvc.lock").write_text(yaml.safe_dump(lock))
    with pytest.raises(ServeError, match="dvc.lock records no data/models/model.skops"):
        Service.prepare(Settings(trained_copy))


def test_serve_exits_1_with_one_message_and_never_listens(trained_copy):
    path = trained_copy / MODEL
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    port = loopback.free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "nbml.serving", "serve"], cwd=trained_copy,
        env=serve_env(PORT=str(port), WORKERS="1"), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("nbml: error: data/models/model.skops: md5 ")
    assert "Traceback" not in proc.stderr
    assert "refusing to serve a model no run recorded" in proc.stderr


def test_splits_written_as_folders_of_part_files_give_the_same_contract(trained_copy):
    """A Dask run's splits are folders of part files; the service reads them one part at a
    time (the training split reduced per column, the test split's first part only)."""
    import numpy as np
    import pandas as pd

    before = Service.prepare(Settings(trained_copy))
    for split in ("train", "test"):
        path = trained_copy / "data" / "prepared" / f"{split}.parquet"
        frame = pd.read_parquet(path)
        path.unlink()
        path.mkdir()
        for i, rows in enumerate(np.array_split(np.arange(len(frame)), 12)):
            # part.10 sorts before part.2, as Dask names them
            frame.iloc[rows].to_parquet(path / f"part.{i}.parquet", index=False)
        assert len(pd.read_parquet(path)) == len(frame)
    after = Service.prepare(Settings(trained_copy))
    assert after.specs == before.specs
    assert after.example == before.example
    assert load(trained_copy).classes == ["Adelie", "Chinstrap", "Gentoo"]
