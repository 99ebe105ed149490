"""Small, named steps for preparing a table of mixed features for a neural network."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlbook.data import fetch


def one_hot_encode(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Replace each categorical column by 0/1 columns ``<column>_<value>``, one per value."""
    missing = [c for c in columns if c not in df]
    if missing:
        raise KeyError(f"Cannot one-hot encode {missing}: no such columns in {list(df.columns)}.")
    return pd.get_dummies(df, columns=columns, prefix=columns, dtype="float32")


def standardize(df: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, tuple[float, float]]]:
    """Rescale columns to mean 0 and standard deviation 1.

    Returns the new table and ``{column: (mean, std)}``, which :func:`unstandardize` uses to map
    predictions back to the original units.
    """
    out = df.copy()
    stats = {}
    for column in columns:
        mean, std = float(df[column].mean()), float(df[column].std())
        if std == 0:
            raise ValueError(f"Column {column!r} is constant; it cannot be standardized.")
        out[column] = (df[column] - mean) / std
        stats[column] = (mean, std)
    return out, stats


def unstandardize(values, stats: tuple[float, float]) -> np.ndarray:
    """Invert :func:`standardize` for one column: ``values * std + mean``."""
    mean, std = stats
    return np.asarray(values, dtype="float64") * std + mean


def split_last_days(df: pd.DataFrame, days: int, date_column: str = "dteday") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a time-ordered table into (everything before, the last ``days`` distinct dates)."""
    dates = df[date_column].drop_duplicates().sort_values()
    if days <= 0 or days >= len(dates):
        raise ValueError(f"days must be between 1 and {len(dates) - 1}, got {days}.")
    first_test_date = dates.iloc[-days]
    is_test = df[date_column] >= first_test_date
    return df[~is_test], df[is_test]


def load_bike_sharing(resolution: str = "hour") -> pd.DataFrame:
    """The UCI bike-sharing table (``hour`` or ``day``), with ``dteday`` parsed as a date."""
    if resolution not in ("hour", "day"):
        raise ValueError(f"resolution must be 'hour' or 'day', got {resolution!r}.")
    return pd.read_csv(fetch("bike_sharing", f"{resolution}.csv"), parse_dates=["dteday"])
