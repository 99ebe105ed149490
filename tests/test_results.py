"""dlbook.record_result, its baseline check, seeds, and the results table."""

from __future__ import annotations

import json

import pytest

import dlbook
from dlbook.results import format_book_table, format_results, load_results, results_path, summarize

MEAN = ("mean predictor", 190.0)


@pytest.fixture
def configured(isolated):
    dlbook.setup(mode="fast", verbose=False)
    return isolated


def test_a_met_target_is_recorded_with_its_baseline_and_seed(configured, capsys):
    dlbook.record_result(3, "test_rmse", 65.0, target=80, higher_is_better=False, baseline=MEAN, margin=50)
    [record] = json.loads(results_path().read_text())
    assert record["chapter"] == "03" and record["metric"] == "test_rmse" and record["value"] == 65.0
    assert record["target"] == 80 and record["passed"] and not record["higher_is_better"] and record["headline"]
    assert record["baseline"] == {"name": "mean predictor", "value": 190.0} and record["margin"] == 50
    assert record["seed"] == 42 and record["precision"] == "float32"
    assert record["mode"] == "fast" and record["backend"] and record["device"] and record["wall_time_s"] >= 0
    out = capsys.readouterr().out
    assert "meets the fast-mode target <= 80, beats the baseline (mean predictor: 190) by more than 50" in out
    assert "recorded in results.json" in out and str(results_path().parent) not in out  # no machine's path


def test_a_missed_target_is_recorded_then_raises(configured):
    with pytest.raises(AssertionError, match="accuracy = 0.5 fails its checks .*MISSES the fast-mode target >= 0.9"):
        dlbook.record_result(5, "accuracy", 0.5, target=0.9, baseline=("majority class", 0.11))
    [record] = load_results()
    assert record["passed"] is False and record["beats_baseline"] and not record["meets_target"]


def test_a_value_that_meets_its_target_but_not_its_baseline_fails(configured, capsys):
    """A model that ignores its input may clear a loose bound; it cannot beat the baseline by a margin."""
    with pytest.raises(AssertionError, match="DOES NOT BEAT the baseline .constant translation: 0.33. by more than 0.5"):
        dlbook.record_result(11, "test_bleu", 0.6, target=0.25, baseline=("constant translation", 0.33), margin=0.5)
    [record] = load_results()
    assert record["meets_target"] and not record["beats_baseline"] and not record["passed"]
    with pytest.raises(AssertionError, match="DOES NOT BEAT"):  # lower is better: the baseline must be above
        dlbook.record_result(3, "test_rmse", 70.0, target=80, higher_is_better=False, baseline=("mean", 70.0))


def test_a_headline_metric_needs_a_baseline_and_bad_baselines_are_refused(configured):
    with pytest.raises(ValueError, match="needs the trivial baseline"):
        dlbook.record_result(5, "test_accuracy", 0.99, target=0.98)
    with pytest.raises(ValueError, match=r"baseline is \(name, value\)"):
        dlbook.record_result(5, "test_accuracy", 0.99, target=0.98, baseline=0.1)
    with pytest.raises(ValueError, match="margin"):
        dlbook.record_result(5, "test_accuracy", 0.99, target=0.98, baseline=("chance", 0.1), margin=-1)
    assert load_results() == []
    dlbook.record_result(11, "val_token_accuracy", 0.6, target=0.4, headline=False)  # a secondary metric
    [record] = load_results()
    assert record["baseline"] is None and not record["headline"] and record["passed"]


def test_a_rerun_replaces_its_own_record_only(configured):
    dlbook.record_result(2, "test_mse", 120.0, target=250, higher_is_better=False, baseline=MEAN)
    dlbook.record_result(3, "test_rmse", 70.0, target=80, higher_is_better=False, baseline=MEAN)
    dlbook.record_result(2, "test_mse", 90.0, target=250, higher_is_better=False, baseline=MEAN)
    records = load_results()
    assert [(r["chapter"], r["value"]) for r in records] == [("02", 90.0), ("03", 70.0)]


def test_seeds_and_precisions_are_kept_apart_and_summarized(configured):
    for seed, value in ((42, 0.92), (1, 0.93), (2, 0.91)):
        dlbook.setup(mode="fast", seed=seed, verbose=False)
        dlbook.record_result(4, "test_accuracy", value, target=0.9, baseline=("majority class", 0.5))
    dlbook.setup(mode="fast", seed=42, precision="mixed_bfloat16", verbose=False)
    dlbook.record_result(4, "test_accuracy", 0.95, target=0.9, baseline=("majority class", 0.5))
    dlbook.setup(mode="fast", verbose=False)
    records = load_results()
    assert len(records) == 4
    float32, bfloat16 = sorted(summarize(records), key=lambda row: row["precision"])
    assert float32["precision"] == "float32" and float32["n"] == 3 and sorted(float32["seeds"]) == [1, 2, 42]
    assert float32["mean"] == pytest.approx(0.92) and float32["sd"] == pytest.approx(0.01)
    assert float32["worst"] == 0.91 and float32["passed"] and bfloat16["n"] == 1 and bfloat16["sd"] == 0
    table = format_results(records)
    assert "| 04 | test_accuracy | 0.92 ± 0.01 (n=3, worst 0.91) |" in table
    assert "majority class 0.5 | >= 0.9 | yes | fast |" in table


def test_the_worst_seed_of_a_lower_is_better_metric_is_its_highest(configured):
    for seed, value in ((42, 8.3), (1, 8.4)):
        dlbook.setup(mode="fast", seed=seed, verbose=False)
        dlbook.record_result(10, "test_nll", value, target=9.2, higher_is_better=False, baseline=("independent keys", 11))
    [row] = summarize(load_results())
    assert row["worst"] == 8.4 and row["n"] == 2


def test_format_results(configured):
    assert "No results yet" in format_results([])
    dlbook.record_result(3, "test_rmse", 65.0, target=80, higher_is_better=False, baseline=MEAN)
    table = format_results(load_results())
    assert table.splitlines()[0].startswith("| chapter | metric | value | seeds | baseline | target")
    assert "| 03 | test_rmse | 65 | 42 | mean predictor 190 | <= 80 | yes | fast |" in table


def test_nan_and_bad_names_are_rejected(configured):
    with pytest.raises(AssertionError, match="NaN"):
        dlbook.record_result(2, "test_mse", float("nan"), target=1, baseline=MEAN)
    with pytest.raises(ValueError, match="snake_case"):
        dlbook.record_result(2, "Test RMSE", 1.0, target=1, baseline=MEAN)
    assert load_results() == []


def test_a_metric_without_target_is_recorded_without_assertion(configured, capsys):
    dlbook.record_result(8, "frechet_distance", 12.5, target=None, higher_is_better=False)
    [record] = load_results()
    assert record["target"] is None and record["passed"] is True and not record["headline"]
    assert "(no target)" in capsys.readouterr().out
    assert "| 08 | frechet_distance | 12.5 | 42 | — | — | — |" in format_results([record])


def test_the_book_table_puts_fast_and_full_side_by_side(configured):
    dlbook.record_result(5, "test_accuracy", 0.987, target=0.98, baseline=("majority class", 0.11))
    for seed, value in ((42, 0.9961), (1, 0.9955), (2, 0.9958)):
        dlbook.setup(mode="full", seed=seed, verbose=False)
        dlbook.record_result(5, "test_accuracy", value, target=0.994, baseline=("majority class", 0.1135))
    dlbook.setup(mode="fast", verbose=False)
    table = format_book_table(load_results())
    assert table.splitlines()[2].startswith(
        "| 05 | `test_accuracy` | 0.987 | 0.9958 ± 0.0003 (3) | majority class 0.1135 | >= 0.98 / >= 0.994 |")
