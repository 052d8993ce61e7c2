"""Artifacts and secrets: safe model files, no pickle, no credentials, safe YAML."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

from conftest import ROOT, tracked_files
from nbml.steps.model import ModelError, load_model, save_model

TEXT_SUFFIXES = {
    ".py",
    ".ipynb",
    ".yaml",
    ".yml",
    ".toml",
    ".cfg",
    ".md",
    ".json",
    ".txt",
    ".lock",
    ".in",
    "",
}


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], ["a", "a", "b", "b"])
    return save_model(model, tmp_path / "model.skops")


def rewrite_schema(path: Path, edit) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "schema.json":
                data = json.dumps(edit(json.loads(data))).encode()
            dst.writestr(info.filename, data)
    path.write_bytes(buffer.getvalue())
    return path.read_bytes()


def test_model_round_trip(model_file):
    assert list(load_model(model_file).predict([[0.0], [3.0]])) == ["a", "b"]


@pytest.mark.parametrize("evil", ["builtins.eval", "os.system"])
def test_tampered_model_with_untrusted_type_is_refused(model_file, evil):
    module, name = evil.rsplit(".", 1)

    def edit(schema):
        schema["__module__"], schema["__class__"] = module, name
        return schema

    tampered = rewrite_schema(model_file, edit)
    refused = rf"refusing to load: .*types that are not trusted: {evil}"
    with pytest.raises(ModelError, match=refused):
        load_model(model_file)
    assert model_file.read_bytes() == tampered  # evidence kept as it was


def test_random_bytes_model_is_refused(model_file):
    model_file.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ModelError, match="not a readable skops model file"):
        load_model(model_file)


def test_truncated_model_is_refused(model_file):
    model_file.write_bytes(model_file.read_bytes()[:200])
    with pytest.raises(ModelError, match="not a readable skops model file"):
        load_model(model_file)


def test_missing_model_names_the_remedy(tmp_path):
    with pytest.raises(ModelError, match=r"model file not found \(run `dvc repro` or `dvc pull`\)"):
        load_model(tmp_path / "none.skops")


def _sources() -> list[tuple[str, str]]:
    """Code of the package, tests and notebooks (notebook cells joined)."""
    found = []
    for rel in tracked_files():
        path = ROOT / rel
        if rel.endswith(".py"):
            found.append((rel, path.read_text(encoding="utf-8")))
        elif rel.endswith(".ipynb"):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            found.append((rel, "\n".join("".join(c["source"]) for c in cells)))
    return found


UNSAFE_LOADS = re.compile(
    r"\b(pickle|cPickle|dill|cloudpickle|joblib)\.loads?\b|\bfrom (pickle|joblib) import\b"
    r"|\bimport (pickle|joblib|dill)\b|\bpd\.read_pickle\b|\bnp\.load\([^)]*allow_pickle=True"
    r"|\btorch\.load\b"
)


def _uses(pattern: re.Pattern[str]) -> list[str]:
    """Where the project's code (not this file, which spells the patterns) matches."""
    return [
        f"{rel}: {m.group(0)}"
        for rel, text in _sources()
        if rel != str(Path(__file__).relative_to(ROOT))
        for m in pattern.finditer(text)
    ]


def test_nothing_loads_an_artifact_with_pickle_or_joblib():
    offenders = _uses(UNSAFE_LOADS)
    assert offenders == [], offenders


def test_yaml_is_loaded_safely_everywhere():
    unsafe = re.compile(
        r"yaml\.(load|load_all)\((?![^)]*Loader=yaml\.(Safe|CSafe)Loader)"
        r"|yaml\.(unsafe_load|full_load)|Loader=yaml\.(Unsafe|Full)?Loader\b(?<!Safe)"
    )
    offenders = _uses(unsafe)
    assert offenders == [], offenders
    assert "yaml.safe_load" in (ROOT / "src/nbml/project.py").read_text()


SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "Slack token": re.compile(r"\bxox[baprs]-[0-9A-Za-z-]{10,}"),
    "credential assignment": re.compile(
        r"(?i)\b(secret_access_key|access_key_id|aws_secret|password|passwd|token|api_key|"
        r"secret|gdrive_client_secret|connection_string|sas_token|account_key)\s*[=:]\s*"
        r"['\"]?(?!\$\{|<|\{\{|None|null|false|true)[A-Za-z0-9/+_\-]{12,}"
    ),
}


def _secrets_in(text: str) -> list[str]:
    return [name for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)]


def test_secret_scanner_catches_key_like_strings():
    assert _secrets_in("access_key_id = AKIAABCDEFGHIJKLMNOP") == [
        "AWS access key id",
        "credential assignment",
    ]
    assert _secrets_in("    secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY") == [
        "credential assignment"
    ]
    assert _secrets_in("password: ${PASSWORD}") == []


def test_no_credentials_in_dvc_config():
    config = (ROOT / ".dvc" / "config").read_text()
    assert _secrets_in(config) == []
    # credentials belong in .dvc/config.local (git-ignored) or the environment
    ignored = (ROOT / ".dvc" / ".gitignore").read_text()
    assert "/config.local" in ignored


def test_no_credentials_in_tracked_files():
    found = []
    for rel in tracked_files():
        path = ROOT / rel
        if path.suffix not in TEXT_SUFFIXES or rel == str(Path(__file__).relative_to(ROOT)):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{rel}: {name}" for name in _secrets_in(text)]
    assert found == [], found
