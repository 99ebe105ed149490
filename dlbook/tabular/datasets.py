"""The tables of the book, read through the dataset hub: UCI's bike-sharing counts (chapter 03)."""


from __future__ import annotations

import pandas as pd

from dlbook.data import fetch


def load_bike_sharing(resolution: str = "hour") -> pd.DataFrame:
    """The UCI bike-sharing table (``hour`` or ``day``), with ``dteday`` parsed as a date."""
    if resolution not in ("hour", "day"):
        raise ValueError(f"resolution must be 'hour' or 'day', got {resolution!r}.")
    return pd.read_csv(fetch("bike_sharing", f"{resolution}.csv"), parse_dates=["dteday"])

