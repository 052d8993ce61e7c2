"""stage.fast_imports: what the runner's process skips, without breaking what it runs."""

import subprocess
import sys

SCRIPT = """
from nbml.runner.stage import SKIPPED_IMPORTS, fast_imports
fast_imports()  # first, as the runner does: before pandas would import pyarrow
fast_imports()  # a second call adds nothing
import pandas as pd
from sklearn.linear_model import LogisticRegression
# scikit-learn looks for pyarrow in sys.modules before it checks its input
LogisticRegression().fit(pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}), [0, 1, 0, 1])
for name in SKIPPED_IMPORTS:
    assert name not in sys.modules, name
    try:
        __import__(name)
    except ImportError as exc:
        assert "not imported by the stage runner" in str(exc), exc
    else:
        raise AssertionError(name + " was imported")
import nbformat
print("ok", sum(type(f).__name__ == "_Skipped" for f in sys.meta_path))
"""


def test_skipped_imports_fail_and_an_estimator_still_fits_a_dataframe():
    """The param check fits LogisticRegression on a DataFrame in the runner's process:
    with None in sys.modules for pyarrow, scikit-learn crashed on it (pa.Table of None)."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys\n" + SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "1"]
