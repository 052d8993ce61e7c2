"""Tables with one column of each feature kind, for the feature and service tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

N = 400


def table(seed: int = 0, n: int = N) -> pd.DataFrame:
    """One column of each kind, rows shuffled as in a split; the label follows the season."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2016-01-01", periods=n, freq="D")[rng.permutation(n)]
    words = np.array(["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog"])
    return pd.DataFrame(
        {
            "when": days.strftime("%Y-%m-%d"),
            "id": rng.permutation(n) + 1,
            "name": [f"customer {i:05d}" for i in rng.permutation(n)],
            "shop": rng.choice([f"shop{i}" for i in range(300)], n),
            "member": rng.choice(["yes", "no"], n),
            "note": [" ".join(rng.choice(words, 9)) for _ in range(n)],
            "amount": rng.normal(size=n),
            "label": np.where(days.month.isin([6, 7, 8]), "summer", "other"),
        }
    )
