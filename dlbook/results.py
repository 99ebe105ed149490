"""Each chapter's results, recorded in ``build/results.json``, checked against a target and a baseline.

A chapter ends with its headline metric::

    dlbook.record_result(5, "test_accuracy", accuracy, target=dlbook.pick(fast=0.98, full=0.994),
                         baseline=("majority class", 0.1135), margin=0.5)

which writes a record and asserts that the value meets the mode's target *and* beats the
chapter's trivial baseline (computed in the chapter: the majority class, the mean predictor, a
random policy...) by ``margin``, so that a model which ignores its input cannot pass. Secondary
metrics pass ``headline=False``; a metric without a target (``target=None``) is only recorded.

``results.json`` is a JSON list of records, one per (chapter, metric, mode, backend, precision,
seed); a re-run replaces its own record. Writes are locked and atomic, so chapters running in
parallel don't lose each other's results. :func:`summarize` groups the seeds of one setting
(mean ± sd, worst, n), which ``dlbook results`` prints.
"""

from __future__ import annotations

import datetime
import json
import math
import re
import statistics
import time
from pathlib import Path

from dlbook.paths import atomic_path, build_dir, locked

KEY = ("chapter", "metric", "mode", "backend", "precision", "seed")
SETTING = ("chapter", "metric", "mode", "backend", "precision")


def results_path() -> Path:
    return build_dir() / "results.json"


def load_results(path: Path | None = None) -> list[dict]:
    """The records in ``results.json`` (an empty list if there is none yet)."""
    path = path or results_path()
    if not path.is_file():
        return []
    return json.loads(path.read_text())


def _check_baseline(baseline, margin: float) -> tuple[str, float] | None:
    if baseline is None:
        return None
    try:
        name, value = baseline
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"baseline is (name, value), e.g. ('majority class', 0.507); got {baseline!r}") from None
    if not isinstance(name, str) or not name or math.isnan(value):
        raise ValueError(f"baseline is (name, value) with a name and a number; got {baseline!r}")
    if not margin >= 0:
        raise ValueError(f"margin is how far the value must beat the baseline, at least 0; got {margin}")
    return name, value


def record_result(
    chapter: int | str,
    metric: str,
    value: float,
    target: float | None,
    higher_is_better: bool = True,
    *,
    baseline: tuple[str, float] | None = None,
    margin: float = 0.0,
    headline: bool = True,
) -> None:
    """Record a chapter's metric, then assert that it meets ``target`` and beats ``baseline``.

    ``target`` is the bound for the current mode, usually ``dlbook.pick(fast=..., full=...)``;
    ``None`` records a metric that has no bound. ``baseline`` is ``(name, value)``, the trivial
    model's score computed in the chapter, and the value must beat it by more than ``margin``
    (in the metric's units, in the metric's better direction). A metric with a target is a
    headline metric and needs a baseline, unless ``headline=False`` marks it as secondary.
    The record is written even when a check fails, so the results table shows failures.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]*", metric):
        raise ValueError(f"Metric names are snake_case (e.g. 'test_rmse'), got {metric!r}.")
    checked_baseline = _check_baseline(baseline, margin)
    if target is not None and headline and checked_baseline is None:
        raise ValueError(f"Chapter {chapter}: the headline metric {metric} needs the trivial baseline it must "
                         "beat, baseline=(name, value), or headline=False for a secondary metric.")
    value = float(value)
    if math.isnan(value):
        raise AssertionError(f"Chapter {chapter}: {metric} is NaN; training diverged.")
    from dlbook.config import current  # loads Keras; printing results (`dlbook results`) does not need it

    config = current()
    sign = 1 if higher_is_better else -1
    meets_target = target is None or sign * (value - target) >= 0
    beats_baseline = checked_baseline is None or sign * (value - checked_baseline[1]) > margin
    record = {
        "chapter": f"{int(chapter):02d}",
        "metric": metric,
        "value": value,
        "target": None if target is None else float(target),
        "higher_is_better": higher_is_better,
        "headline": bool(headline and target is not None),
        "baseline": None if checked_baseline is None else {"name": checked_baseline[0], "value": checked_baseline[1]},
        "margin": float(margin) if checked_baseline else None,
        "meets_target": meets_target,
        "beats_baseline": beats_baseline,
        "passed": meets_target and beats_baseline,
        "mode": config.mode,
        "backend": config.backend,
        "device": config.device,
        "precision": config.precision,
        "seed": config.seed,
        "wall_time_s": round(time.perf_counter() - config.started, 1),
        "recorded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = results_path()
    with locked(path):
        records = [r for r in load_results(path) if any(r.get(k) != record[k] for k in KEY)]
        records.append(record)
        records.sort(key=lambda r: tuple(str(r.get(k)) for k in KEY))
        with atomic_path(path, suffix=".json") as tmp:
            tmp.write_text(json.dumps(records, indent=2, ensure_ascii=False))
    if record["headline"]:
        from dlbook import cache

        cache.note_metric(metric, value)  # the models this chapter trained show what they scored
    _report(record, path.name)


def _report(record: dict, file_name: str) -> None:
    """Print the verdict (the results file by name only: no machine's path in a chapter's output),
    and raise AssertionError if a check failed."""
    chapter, metric, value, target = record["chapter"], record["metric"], record["value"], record["target"]
    relation = ">=" if record["higher_is_better"] else "<="
    parts = [f"chapter {chapter}: {metric} = {value:.4g}"]
    if target is not None:
        verdict = "meets" if record["meets_target"] else "MISSES"
        parts.append(f"{verdict} the {record['mode']}-mode target {relation} {target:g}")
    else:
        parts.append("(no target)")
    baseline = record["baseline"]
    if baseline:
        beaten = "beats" if record["beats_baseline"] else "DOES NOT BEAT"
        by = f" by more than {record['margin']:g}" if record["margin"] else ""
        parts.append(f"{beaten} the baseline ({baseline['name']}: {baseline['value']:.4g}){by}")
    print(", ".join(parts) + f"; recorded in {file_name}")
    if not record["passed"]:
        raise AssertionError(f"Chapter {chapter}: {metric} = {value:.4g} fails its checks ({record['mode']} mode, "
                             f"{record['backend']}): {', '.join(parts[1:])}.")


def summarize(records: list[dict]) -> list[dict]:
    """The records grouped by setting (chapter, metric, mode, backend, precision), one row per group:
    ``values`` and ``seeds`` (in seed order of recording), ``mean``, ``sd`` (0 for one value),
    ``worst`` (the lowest value where higher is better, else the highest), ``n``, ``passed``
    (every seed passed), the target, baseline and margin, the mean wall time, and ``headline``."""
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        groups.setdefault(tuple(record.get(k) for k in SETTING), []).append(record)
    rows = []
    for key, group in groups.items():
        values = [r["value"] for r in group]
        higher = group[0]["higher_is_better"]
        rows.append({
            **dict(zip(SETTING, key)),
            "values": values,
            "seeds": [r.get("seed") for r in group],
            "n": len(values),
            "mean": statistics.fmean(values),
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "worst": min(values) if higher else max(values),
            "higher_is_better": higher,
            "target": group[-1]["target"],
            "baseline": group[-1].get("baseline"),
            "margin": group[-1].get("margin"),
            "headline": group[-1].get("headline", False),
            "passed": all(r["passed"] for r in group),
            "device": group[-1].get("device"),
            "wall_time_s": statistics.fmean(r["wall_time_s"] for r in group),
        })
    return rows


def format_value(row: dict) -> str:
    """``0.9204`` for one seed; ``0.9204 ± 0.0012 (n=3, worst 0.9191)`` for several."""
    if row["n"] == 1:
        return f"{row['mean']:.4g}"
    return f"{row['mean']:.4g} ± {row['sd']:.2g} (n={row['n']}, worst {row['worst']:.4g})"


def format_results(records: list[dict]) -> str:
    """The records as a Markdown table, one row per setting with its seeds summarized, as
    ``dlbook results`` prints them."""
    if not records:
        return "No results yet: run a chapter (`dlbook run 02`) or the book (`make book`)."
    lines = [
        "| chapter | metric | value | seeds | baseline | target | ok | mode | backend | precision | wall time |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summarize(records):
        relation = ">=" if row["higher_is_better"] else "<="
        target = "—" if row["target"] is None else f"{relation} {row['target']:g}"
        baseline = "—" if not row["baseline"] else f"{row['baseline']['name']} {row['baseline']['value']:.4g}"
        ok = "—" if row["target"] is None and not row["baseline"] else ("yes" if row["passed"] else "NO")
        seeds = ", ".join(str(s) for s in row["seeds"])
        lines.append(
            f"| {row['chapter']} | {row['metric']} | {format_value(row)} | {seeds} | {baseline} | {target} | {ok} | "
            f"{row['mode']} | {row['backend']} | {row['precision']} | {row['wall_time_s']:.0f} s |"
        )
    return "\n".join(lines)


def format_book_table(records: list[dict], backend: str = "tensorflow", precision: str = "float32") -> str:
    """The README's results table: per chapter and metric, the fast and full values under ``backend``
    and ``precision`` (mean ± sd over the seeds, and n), the baseline, both targets and the full run's
    mean wall time. ``dlbook results --book`` prints it."""
    rows = [r for r in summarize(records) if r["backend"] == backend and r["precision"] == precision]
    by_metric: dict[tuple, dict] = {}
    for row in rows:
        by_metric.setdefault((row["chapter"], row["metric"]), {})[row["mode"]] = row
    lines = [
        f"| chapter | metric | fast | full: mean ± sd (n) | baseline (full) | target fast / full | full time |",
        "|---|---|---|---|---|---|---|",
    ]
    for (chapter, metric), modes in sorted(by_metric.items()):
        fast, full = modes.get("fast"), modes.get("full")
        any_row = full or fast
        relation = ">=" if any_row["higher_is_better"] else "<="

        def target(row):
            return "—" if row is None or row["target"] is None else f"{relation} {row['target']:g}"

        baseline_row = full or fast
        baseline = "—" if not baseline_row["baseline"] else \
            f"{baseline_row['baseline']['name']} {baseline_row['baseline']['value']:.4g}"
        full_value = "" if full is None else (f"{full['mean']:.4g}" if full["n"] == 1 else
                                              f"{full['mean']:.4g} ± {full['sd']:.2g} ({full['n']})")
        time_text = "" if full is None else f"{full['wall_time_s'] / 60:.0f} min"
        lines.append(f"| {chapter} | `{metric}` | {'' if fast is None else format(fast['mean'], '.4g')} | "
                     f"{full_value} | {baseline} | {target(fast)} / {target(full)} | {time_text} |")
    return "\n".join(lines)
