"""dlbook.tabular: one-hot encoding, standardisation, splitting by date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlbook.tabular import datasets, tables


@pytest.fixture
def table():
    return pd.DataFrame({
        "day": pd.to_datetime(["2024-01-01"] * 2 + ["2024-01-02"] * 2 + ["2024-01-03"] * 2),
        "season": [1, 2, 1, 3, 3, 2],
        "temp": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    })


def test_one_hot_encode(table):
    encoded = tables.one_hot_encode(table, ["season"])
    assert [c for c in encoded.columns if c.startswith("season")] == ["season_1", "season_2", "season_3"]
    assert "season" not in encoded and (encoded.filter(like="season_").sum(axis=1) == 1).all()
    with pytest.raises(KeyError, match="no such columns"):
        tables.one_hot_encode(table, ["weather"])


def test_standardize_and_unstandardize(table):
    scaled, stats = tables.standardize(table, ["temp"])
    assert scaled.temp.mean() == pytest.approx(0) and scaled.temp.std() == pytest.approx(1)
    np.testing.assert_allclose(tables.unstandardize(scaled.temp, stats["temp"]), table.temp)
    assert table.temp.iloc[0] == 0.1  # the input is not modified
    with pytest.raises(ValueError, match="constant"):
        tables.standardize(table.assign(temp=1.0), ["temp"])


def test_apply_standardization_uses_the_given_statistics(table):
    train, test = table.iloc[:4], table.iloc[4:]
    scaled_train, stats = tables.standardize(train, ["temp"])
    scaled_test = tables.apply_standardization(test, stats)
    mean, std = train.temp.mean(), train.temp.std()
    assert stats["temp"] == pytest.approx((mean, std))
    np.testing.assert_allclose(scaled_test.temp, (test.temp - mean) / std)
    np.testing.assert_allclose(scaled_train.temp, (train.temp - mean) / std)
    assert scaled_test.temp.mean() > 1  # the test rows are later and warmer: not re-centred
    assert test.temp.iloc[0] == 0.5 and (scaled_test.season == test.season).all()
    with pytest.raises(KeyError, match="no such columns"):
        tables.apply_standardization(test, {"hum": (0.0, 1.0)})
    with pytest.raises(ValueError, match="must be positive"):
        tables.apply_standardization(test, {"temp": (0.0, 0.0)})
    with pytest.raises(KeyError, match="no such column"):
        tables.standardize(train, ["hum"])


def test_split_last_days(table):
    before, last = tables.split_last_days(table, days=1, date_column="day")
    assert len(before) == 4 and len(last) == 2 and (last.day == "2024-01-03").all()
    with pytest.raises(ValueError, match="between 1 and 2"):
        tables.split_last_days(table, days=3, date_column="day")


def test_load_bike_sharing(real_data):
    hours = datasets.load_bike_sharing("hour")
    assert len(hours) == 17379 and {"cnt", "hr", "weathersit", "dteday"} <= set(hours.columns)
    assert (hours.casual + hours.registered == hours.cnt).all()
    assert str(hours.dteday.dtype).startswith("datetime64")
    assert len(datasets.load_bike_sharing("day")) == 731
    with pytest.raises(ValueError, match="'hour' or 'day'"):
        datasets.load_bike_sharing("minute")
