"""A cache object corrupted on disk is detected and replaced from the remote.

The documented commands (docs/faults.md): `dvc status -c` lists a corrupted
object as missing from the cache ("deleted"), `dvc fetch` downloads it again
from the remote, and `dvc checkout --relink` rewrites workspace files that were
checked out from the bad copy.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from conftest import copy_project, run

pytestmark = pytest.mark.slow


def test_corrupted_cache_object_is_detected_and_replaced(tmp_path: Path):
    repo = copy_project(tmp_path / "project")
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "local", str(remote)], repo)
    run(["dvc", "repro", "prepare"], repo)
    run(["dvc", "push"], repo)
    train = repo / "data" / "prepared" / "train.parquet"
    good = train.read_bytes()
    md5 = hashlib.md5(good).hexdigest()
    obj = repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    assert obj.read_bytes() == good

    # bit rot: same size, different bytes; then a checkout from the bad copy
    obj.chmod(0o644)
    obj.write_bytes(good[:-8] + b"\0" * 8)
    train.unlink()
    run(["dvc", "checkout", "prepare"], repo)
    assert train.read_bytes() != good  # checkout alone does not verify the cache

    status = run(["dvc", "status", "-c", "prepare"], repo).stdout
    assert "deleted:" in status and "data/prepared" in status, status
    fetched = run(["dvc", "fetch", "prepare"], repo)
    assert "1 file fetched" in fetched.stdout + fetched.stderr
    assert obj.read_bytes() == good
    assert "in sync" in run(["dvc", "status", "-c", "prepare"], repo).stdout

    run(["dvc", "checkout", "--relink", "prepare"], repo)
    assert train.read_bytes() == good
    assert "up to date" in run(["dvc", "status", "prepare"], repo).stdout
    pushed = remote / "files" / "md5" / md5[:2] / md5[2:]
    assert hashlib.md5(pushed.read_bytes()).hexdigest() == md5
