"""Small, named steps for preparing a table of mixed features for a neural network."""

from __future__ import annotations

import numpy as np
import pandas as pd


def one_hot_encode(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Replace each categorical column by 0/1 columns ``<column>_<value>``, one per value."""
    missing = [c for c in columns if c not in df]
    if missing:
        raise KeyError(f"Cannot one-hot encode {missing}: no such columns in {list(df.columns)}.")
    return pd.get_dummies(df, columns=columns, prefix=columns, dtype="float32")


def standardize(df: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, tuple[float, float]]]:
    """Rescale columns to mean 0 and standard deviation 1, using this table's own statistics.

    Returns the new table and ``{column: (mean, std)}``. Compute the statistics on the training
    data only and pass them to :func:`apply_standardization` for the test data (otherwise the
    test data leaks into training); :func:`unstandardize` maps predictions back to the original
    units.
    """
    stats = {}
    for column in columns:
        if column not in df:
            raise KeyError(f"Cannot standardize {column!r}: no such column in {list(df.columns)}.")
        mean, std = float(df[column].mean()), float(df[column].std())
        if not std > 0:
            raise ValueError(f"Column {column!r} is constant; it cannot be standardized.")
        stats[column] = (mean, std)
    return apply_standardization(df, stats), stats


def apply_standardization(df: pd.DataFrame, stats: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Rescale each column in ``stats`` with given ``(mean, std)``: ``(v - mean) / std``.

    Use it to standardize validation or test data with the statistics of the training data.
    The input is not modified.
    """
    missing = [c for c in stats if c not in df]
    if missing:
        raise KeyError(f"Cannot standardize {missing}: no such columns in {list(df.columns)}.")
    out = df.copy()
    for column, (mean, std) in stats.items():
        if not std > 0:
            raise ValueError(f"The standard deviation of {column!r} is {std}; it must be positive.")
        out[column] = (df[column] - mean) / std
    return out


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

