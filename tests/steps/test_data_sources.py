"""data.source as a file under the raw folder: loading, dialect detection, refusals.

The unit tests use tiny files in ``tmp_path``; the slow test runs the whole
pipeline on a CSV that is not penguins, as a new user would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import run
from nbml.messages import WARNING_PREFIX, warning_lines
from nbml.project import Project
from nbml.runner.notebook import declared_parameters, read_json
from nbml.steps import data
from nbml.steps.feature_types import infer_feature_types
from nbml.steps.model import load_model
from wine_project import SOURCE, TARGET, wine_project

ROOT = Path(__file__).resolve().parents[2]
RAW = "data/raw"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / RAW).mkdir(parents=True)
    return tmp_path


def write(root: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    (root / RAW / name).write_bytes(text.encode(encoding))
    return f"{RAW}/{name}"


# -- dialect detection -------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "delimiter", "decimal"),
    [
        ("a,b,label\n1.5,2,x\n3.25,4,y\n", ",", "."),
        ("a;b;label\n1,5;2;x\n3,25;4;y\n", ";", ","),
        ("a;b;label\n1.5;2;x\n3.25;4;y\n", ";", "."),
        ("a\tb\tlabel\n1,5\t2\tx\n3,25\t4\ty\n", "\t", ","),
        ("a|b|label\n1.5|2|x\n3.25|4|y\n", "|", "."),
    ],
)
def test_detects_delimiter_and_decimal(root: Path, text: str, delimiter: str, decimal: str):
    source = write(root, "t.csv", text)
    dialect = data.sniff_csv(root / source)
    assert (dialect.delimiter, dialect.decimal) == (delimiter, decimal)
    df = data.load_source(source, root=root, raw_dir=RAW)
    assert list(df.columns) == ["a", "b", "label"]
    assert df["a"].tolist() == [1.5, 3.25]
    assert df["label"].tolist() == ["x", "y"]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252"), ("utf-16", "utf-16")],
)
def test_detects_encoding(root: Path, encoding: str, expected: str):
    source = write(root, "t.csv", "stadt;größe;label\nKöln;1,5;ä\nZürich;2,5;€\n", encoding)
    assert data.sniff_csv(root / source).encoding == expected
    df = data.load_source(source, root=root, raw_dir=RAW)
    assert list(df.columns) == ["stadt", "größe", "label"]
    assert df["stadt"].tolist() == ["Köln", "Zürich"]
    assert df["größe"].tolist() == [1.5, 2.5]
    assert df["label"].tolist() == ["ä", "€"]


def test_encoding_detection_reads_past_the_sniffed_head(root: Path):
    rows = "".join(f"{i},x\n" for i in range(20000)) + "1,caf\xe9\n"
    source = write(root, "t.csv", "n,label\n" + rows, "cp1252")
    assert len(rows) > data.SNIFF_BYTES
    df = data.load_source(source, root=root, raw_dir=RAW)
    assert df["label"].iloc[-1] == "café"


CYRILLIC = (
    ("город", "население", "тип"),
    [
        ("Москва", 12.6, "столица"),
        ("Казань", 1.3, "регион"),
        ("Новосибирск", 1.6, "регион"),
        ("Екатеринбург", 1.5, "регион"),
        ("Омск", 1.1, "регион"),
        ("Санкт-Петербург", 5.4, "столица"),
    ],
)
JAPANESE = (  # kana among the kanji: fewer rows of kanji alone could as well be Korean
    ("都市", "人口", "種類"),
    [
        ("東京", 13.9, "首都"),
        ("大阪", 2.7, "地方"),
        ("名古屋", 2.3, "地方"),
        ("札幌", 1.9, "地方"),
        ("福岡", 1.6, "地方"),
        ("京都", 1.4, "地方"),
        ("さいたま", 1.3, "地方"),
        ("広島", 1.2, "地方"),
    ],
)


@pytest.mark.parametrize(
    ("encoding", "table", "delimiter", "decimal"),
    [("cp1251", CYRILLIC, ";", ","), ("shift_jis", JAPANESE, ",", ".")],
)
def test_cyrillic_and_shift_jis_files_keep_their_names(
    root: Path, capsys, encoding: str, table: tuple, delimiter: str, decimal: str
):
    """Both decode without error as cp1252 or latin-1 too, garbling every name."""
    header, rows = table
    lines = [delimiter.join(header)]
    lines += [delimiter.join([n, str(v).replace(".", decimal), t]) for n, v, t in rows]
    text = "\n".join(lines) + "\n"
    source = write(root, "t.csv", text, encoding)
    dialect = data.sniff_csv(root / source)
    assert (root / source).read_bytes().decode(dialect.encoding) == text
    df = data.load_source(source, root=root, raw_dir=RAW)
    assert list(df.columns) == list(header)
    assert df[header[0]].tolist() == [n for n, _, _ in rows]
    assert df[header[1]].tolist() == [v for _, v, _ in rows]
    assert df[header[2]].tolist() == [t for _, _, t in rows]
    assert WARNING_PREFIX not in capsys.readouterr().err  # enough text to be sure


def test_unsure_encoding_is_warned_about_and_cp1252_preferred(root: Path, capsys):
    # cp1250 and cp1252 decode this equally cleanly ("forêt" or "foręt"): say so
    source = write(root, "t.csv", "ville;label\nOrléans;forêt\nBesançon;crème\n", "cp1252")
    df = data.load_source(source, root=root, raw_dir=RAW)
    assert df["ville"].tolist() == ["Orléans", "Besançon"]
    assert df["label"].tolist() == ["forêt", "crème"]
    err = capsys.readouterr().err
    assert f"{WARNING_PREFIX} {root / source}: text encoding detected as cp1252, but " in err
    assert "cp1250" in err and "set params.yaml data.csv.encoding" in err
    # the override silences it
    data.load_source(source, csv={"encoding": "cp1252"}, root=root, raw_dir=RAW)
    assert WARNING_PREFIX not in capsys.readouterr().err


def test_plain_ascii_and_utf8_are_utf8_without_doubt():
    assert data.detect_encoding(b"a,b\n1,2\n") == data.EncodingGuess("utf-8")
    assert data.detect_encoding("größe\nКазань\n東京\n".encode()) == data.EncodingGuess("utf-8")


def test_big_file_encoding_from_a_bounded_sample(root: Path, capsys):
    """Detection reads at most ENCODING_SAMPLE_BYTES, in whole lines from head to tail;
    a non-ASCII line it missed makes the read fail and one scan for such lines follows."""
    lines = [f"{i},x\n" for i in range(400_000)]
    lines.insert(200_000, "1,caf\xe9\n")
    source = write(root, "t.csv", "n,label\n" + "".join(lines), "cp1252")
    path = root / source
    sample = data.encoding_sample(path)
    assert path.stat().st_size > 3 * data.ENCODING_SAMPLE_BYTES >= len(sample)
    assert sample.startswith(b"n,label\n0,x\n") and sample.endswith(b"399999,x\n")
    assert set(sample.splitlines()) <= set(path.read_bytes().splitlines())  # whole lines
    assert b"\xe9" not in sample and data.detect_encoding(sample).encoding == "utf-8"
    df = data.load_source(source, root=root, raw_dir=RAW)
    assert df.loc[200_000, "label"] == "café" and len(df) == 400_001
    assert "encoding cp1252" in df.attrs["source"]
    assert "its sample read as utf-8, but later lines do not" in capsys.readouterr().err


def test_utf16_without_bom_is_refused_unless_declared(root: Path):
    # NUL bytes: not guessed (a single-byte guess would read garbage), said; the override reads it
    source = write(root, "t.csv", "a,b,label\n1,2,ä\n3,4,ö\n", "utf-16-le")
    with pytest.raises(data.DataError, match="NUL bytes .*needs params.yaml data.csv.encoding"):
        data.load_source(source, root=root, raw_dir=RAW)
    df = data.load_source(source, csv={"encoding": "utf-16-le"}, root=root, raw_dir=RAW)
    assert df["label"].tolist() == ["ä", "ö"]


def test_params_override_detection(root: Path):
    # a file whose sample looks like comma-separated, but the user knows better
    source = write(root, "t.txt", "a|b\n1,5|2\n2,5|3\n")
    options = {"delimiter": "|", "encoding": "latin-1", "decimal": ","}
    dialect = data.sniff_csv(root / source, options)
    assert dialect == data.CsvDialect("|", "latin-1", ",")
    df = data.load_source(source, csv=options, root=root, raw_dir=RAW)
    assert df["a"].tolist() == [1.5, 2.5]
    tab = write(root, "t.tsv", "a\tb\n1\t2\n3\t4\n")
    assert data.sniff_csv(root / tab, {"delimiter": "tab"}).delimiter == "\t"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delimiter": ";;"}, "delimiter ';;' must be one character"),
        ({"encoding": "klingon"}, "encoding 'klingon' is not a known text encoding"),
        ({"decimal": "/"}, "decimal '/' must be"),
        ({"quote": "'"}, "unknown key(s) quote"),
    ],
)
def test_bad_csv_params_are_named(options: dict[str, str], message: str):
    with pytest.raises(data.DataError, match="params.yaml data.csv") as err:
        data.csv_options(options)
    assert message in str(err.value)


def test_parquet_source(root: Path):
    frame = pd.DataFrame({"x": [1.0, 2.0], "kind": ["a", "b"], "label": ["p", "q"]})
    frame.to_parquet(root / RAW / "t.parquet", index=False)
    df = data.load_source(f"{RAW}/t.parquet", root=root, raw_dir=RAW)
    pd.testing.assert_frame_equal(df, frame)
    assert df.attrs["source"] == f"{RAW}/t.parquet"


def test_unreadable_files_name_the_file(root: Path):
    (root / RAW / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(data.DataError, match="bad.parquet") as err:
        data.load_source(f"{RAW}/bad.parquet", root=root, raw_dir=RAW)
    assert "Parquet" in str(err.value)
    source = write(root, "empty.csv", "")
    with pytest.raises(data.DataError, match="empty.csv"):
        data.load_source(source, root=root, raw_dir=RAW)


PENGUIN_ROWS = "Adelie,Torgersen,39.1,18.7,181,3750,male,2007\n" * 3


PENGUIN_HEADER = "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex"


@pytest.mark.parametrize(
    "name, text, problem",
    [
        (
            "titled.csv",
            f"Penguin export 2024-01-01\n\n{PENGUIN_HEADER},year\n{PENGUIN_ROWS}",
            "the first line has 1 field(s) but the rows have 8 (a title or comment line above "
            "the header?); the first line must hold the column names",
        ),
        (
            "dup.csv",
            f"{PENGUIN_HEADER},island\n{PENGUIN_ROWS}",
            "column name 'island' appears 2 times (columns 2, 8); each column needs a unique name",
        ),
    ],
    ids=["title line above the header", "duplicated column names"],
)
def test_a_header_pandas_would_work_around_is_named(root: Path, name: str, text: str, problem):
    source = write(root, name, text)
    with pytest.raises(data.DataError) as err:
        data.load_source(source, root=root, raw_dir=RAW)
    assert name in err.value.where
    assert err.value.problems == [problem]


def test_spaces_after_the_delimiter_are_not_part_of_names_or_values(root: Path):
    source = write(root, "spaced.csv", "species; island ; mass\nAdelie; Torgersen; 3750\n")
    df = data.load_source(source, root=root, raw_dir=RAW)
    assert list(df.columns) == ["species", "island", "mass"]
    assert df.loc[0, "island"] == "Torgersen" and df.loc[0, "mass"] == 3750
    types = infer_feature_types(df, "species", drop=["island"])
    assert types.dropped["island"] == "listed in data.drop"


def test_numbers_with_decimal_commas_read_as_text_are_warned_about(root: Path, capsys):
    rows = "".join(f'"{30 + i},{i % 10}",{"ab"[i % 2]}\n' for i in range(40))
    source = write(root, "quoted.csv", "bill_length_mm,label\n" + rows)
    df = data.load_source(source, root=root, raw_dir=RAW)
    assert df["bill_length_mm"].dtype.kind not in "fi"  # what pandas does by itself
    err = "".join(warning_lines(capsys.readouterr().err))  # progress lines aside
    assert err.startswith(f"{WARNING_PREFIX} ") and "quoted.csv: column 'bill_length_mm'" in err
    assert "'30,0', '31,1', '32,2'" in err and "40 levels" in err
    assert "set params.yaml data.csv.decimal: ','" in err
    # the remedy it names works for a comma-separated file (the commas are quoted)
    fixed = data.load_source(source, csv={"decimal": ","}, root=root, raw_dir=RAW)
    assert fixed["bill_length_mm"].iloc[:2].tolist() == [30.0, 31.1]
    assert warning_lines(capsys.readouterr().err) == []


def test_thousands_separators_are_warned_about(root: Path, capsys):
    rows = "".join(f"{3 + i % 3}.{i:03d},{i % 10};1,5;{'ab'[i % 2]}\n" for i in range(30))
    source = write(root, "mass.csv", "body_mass_g;ratio;label\n" + rows)
    df = data.load_source(source, root=root, raw_dir=RAW)
    assert df["ratio"].tolist()[:1] == [1.5]  # the decimal comma was detected
    err = capsys.readouterr().err
    assert "column 'body_mass_g' looks numeric but is read as text ('3.000,0'" in err
    assert "thousands separators are not supported" in err and "'ratio'" not in err


# -- where the file may be ---------------------------------------------------
@pytest.mark.parametrize(
    "source",
    ["outside.csv", "data/outside.csv", f"{RAW}/../outside.csv", "../elsewhere/outside.csv"],
)
def test_refuses_files_outside_the_raw_folder(root: Path, source: str):
    target = Path(root / source).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("a,label\n1,x\n2,y\n")
    with pytest.raises(data.DataError, match="params.yaml data.source") as err:
        data.load_source(source, root=root, raw_dir=RAW)
    assert f"not inside {RAW}/" in str(err.value)
    assert "dvc add" in str(err.value)


def test_refuses_an_absolute_path_outside_the_repo(root: Path, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "data.csv"
    elsewhere.write_text("a,label\n1,x\n2,y\n")
    with pytest.raises(data.DataError, match=f"not inside {RAW}/"):
        data.load_source(str(elsewhere), root=root, raw_dir=RAW)


def test_accepts_an_absolute_path_inside_the_raw_folder(root: Path):
    source = write(root, "t.csv", "a,label\n1,x\n2,y\n")
    df = data.load_source(str(root / source), root=root, raw_dir=RAW)
    assert df.attrs["source"].startswith(source)


def test_missing_file_and_unknown_names(root: Path):
    with pytest.raises(data.DataError, match="'data/raw/nope.csv' does not exist.*dvc pull"):
        data.load_source(f"{RAW}/nope.csv", root=root, raw_dir=RAW)
    write(root, "t.json", "{}")
    with pytest.raises(data.DataError, match="unsupported file type"):
        data.load_source(f"{RAW}/t.json", root=root, raw_dir=RAW)
    with pytest.raises(data.DataError, match="unknown dataset 'pinguins'.*penguins"):
        data.load_source("pinguins", root=root, raw_dir=RAW)


def test_bundled_names_still_load(root: Path):
    df = data.load_source("iris", root=root, raw_dir=RAW)
    assert "target" in df.columns and len(df) == 150
    assert df.attrs["source"] == "bundled dataset 'iris'"


# -- the rest of the pipeline sees an ordinary frame ---------------------------
def test_feature_types_of_a_csv_source(root: Path):
    source = write(
        root,
        "shop.csv",
        "id;price;grade;store;label\n"
        + "".join(f"r{i};{i},5;{i % 3};{'ab'[i % 2]};{'yn'[i % 2]}\n" for i in range(30)),
    )
    df = data.load_source(source, root=root, raw_dir=RAW)
    types = infer_feature_types(df, "label", drop=["id"], categorical=["grade"])
    assert types.numeric == ["price"]
    assert types.categorical == ["grade", "store"]
    assert set(types.dropped) == {"id"}


def test_prepare_parameters_cell_declares_every_data_key():
    proj = Project.load(ROOT)
    declared = set(declared_parameters(read_json(ROOT / "notebooks/prepare.ipynb"), "prepare"))
    assert declared == set(proj.stage_params("prepare"))
    assert set(proj.params["data"]["csv"]) == set(data.CSV_OPTIONS)


# -- end to end: a user's own CSV ----------------------------------------------
@pytest.mark.slow
def test_own_csv_end_to_end(tmp_path_factory: pytest.TempPathFactory):
    """wine.csv under data/raw, `dvc add`, two params set, `dvc repro`: everything built."""
    repo = wine_project(tmp_path_factory)
    frame = pd.read_csv(repo / SOURCE, sep=";", decimal=",", encoding="cp1252")

    executed = (repo / "outputs/notebooks/prepare.ipynb").read_text()
    assert "delimiter ';'" in executed and "decimal ','" in executed
    prepared = pd.concat(
        [
            pd.read_parquet(repo / "data/prepared/train.parquet"),
            pd.read_parquet(repo / "data/prepared/test.parquet"),
        ]
    )
    assert len(prepared) == len(frame)
    assert set(prepared.columns) == set(frame.columns)
    assert prepared["alcohol"].dtype.kind == "f"
    metrics = json.loads((repo / "outputs/metrics.json").read_text())
    assert metrics and all(isinstance(v, (int, float)) for v in _leaves(metrics))
    for name in ("prepare", "explore", "featurize", "train", "evaluate", "index"):
        assert (repo / "reports" / f"{name}.html").stat().st_size > 0
    assert "cultivar_1" in (repo / "reports/prepare.html").read_text()
    assert "cultivar_1" in (repo / "outputs/plots/confusion.csv").read_text()
    types = json.loads((repo / "data/features/feature_types.json").read_text())
    assert "alcohol" in types["numeric"]

    # the model takes raw rows with the source's columns
    model = load_model(repo / "data/models/model.skops")
    rows = frame.drop(columns=TARGET).head(5)
    assert set(model.predict(rows)) <= set(frame[TARGET])

    # the CSV itself is in DVC, not git; its .dvc file is committed
    assert "/wine.csv" in (repo / RAW / ".gitignore").read_text()
    tracked = run(["git", "ls-files", RAW], repo).stdout.split()
    assert f"{SOURCE}.dvc" in tracked and SOURCE not in tracked
    assert json.loads(run(["dvc", "status", "--json"], repo).stdout) == {}


def _leaves(tree: object) -> list[object]:
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in _leaves(value)]
    return [tree]
