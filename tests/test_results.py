"""dlbook.record_result and the results table."""

from __future__ import annotations

import json

import pytest

import dlbook
from dlbook.results import format_results, load_results, results_path


@pytest.fixture
def configured(isolated):
    dlbook.setup(mode="fast", verbose=False)
    return isolated


def test_a_met_target_is_recorded(configured, capsys):
    dlbook.record_result(3, "test_rmse", 65.0, target=80, higher_is_better=False)
    [record] = json.loads(results_path().read_text())
    assert record["chapter"] == "03" and record["metric"] == "test_rmse" and record["value"] == 65.0
    assert record["target"] == 80 and record["passed"] and not record["higher_is_better"]
    assert record["mode"] == "fast" and record["backend"] and record["device"] and record["wall_time_s"] >= 0
    assert "meets the fast-mode target <= 80" in capsys.readouterr().out


def test_a_missed_target_is_recorded_then_raises(configured):
    with pytest.raises(AssertionError, match="accuracy = 0.5, target >= 0.9"):
        dlbook.record_result(5, "accuracy", 0.5, target=0.9)
    [record] = load_results()
    assert record["passed"] is False


def test_a_rerun_replaces_its_own_record_only(configured):
    dlbook.record_result(2, "test_mse", 120.0, target=250, higher_is_better=False)
    dlbook.record_result(3, "test_rmse", 70.0, target=80, higher_is_better=False)
    dlbook.record_result(2, "test_mse", 90.0, target=250, higher_is_better=False)
    records = load_results()
    assert [(r["chapter"], r["value"]) for r in records] == [("02", 90.0), ("03", 70.0)]


def test_nan_and_bad_names_are_rejected(configured):
    with pytest.raises(AssertionError, match="NaN"):
        dlbook.record_result(2, "test_mse", float("nan"), target=1)
    with pytest.raises(ValueError, match="snake_case"):
        dlbook.record_result(2, "Test RMSE", 1.0, target=1)
    assert load_results() == []


def test_format_results(configured):
    assert "No results yet" in format_results([])
    dlbook.record_result(3, "test_rmse", 65.0, target=80, higher_is_better=False)
    table = format_results(load_results())
    assert table.splitlines()[0].startswith("| chapter | metric | value | target")
    assert "| 03 | test_rmse | 65 | <= 80 | yes | fast |" in table


def test_a_metric_without_target_is_recorded_without_assertion(configured, capsys):
    dlbook.record_result(8, "frechet_distance", 12.5, target=None, higher_is_better=False)
    [record] = load_results()
    assert record["target"] is None and record["passed"] is True
    assert "(no target)" in capsys.readouterr().out
    assert "| 08 | frechet_distance | 12.5 | — | yes |" in format_results([record])
