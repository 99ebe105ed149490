"""Each chapter's headline metric, recorded in ``build/results.json`` and checked against a target.

``results.json`` is a JSON list of records, one per (chapter, metric, mode, backend); a re-run
replaces its own record. Writes are locked and atomic, so chapters running in parallel don't lose
each other's results.
"""

from __future__ import annotations

import datetime
import json
import math
import re
import time
from pathlib import Path

from dlbook.paths import atomic_path, build_dir, locked

KEY = ("chapter", "metric", "mode", "backend")


def results_path() -> Path:
    return build_dir() / "results.json"


def load_results(path: Path | None = None) -> list[dict]:
    """The records in ``results.json`` (an empty list if there is none yet)."""
    path = path or results_path()
    if not path.is_file():
        return []
    return json.loads(path.read_text())


def record_result(
    chapter: int | str,
    metric: str,
    value: float,
    target: float | None,
    higher_is_better: bool = True,
) -> None:
    """Record a chapter's headline metric, then assert that it meets ``target``.

    The record is written even when the target is missed, so the results table shows failures.
    ``target`` is the bound for the current mode, usually ``dlbook.pick(fast=..., full=...)``;
    ``None`` records a metric that has no bound yet.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]*", metric):
        raise ValueError(f"Metric names are snake_case (e.g. 'test_rmse'), got {metric!r}.")
    value = float(value)
    if math.isnan(value):
        raise AssertionError(f"Chapter {chapter}: {metric} is NaN; training diverged.")
    from dlbook.config import current  # loads Keras; printing results (`dlbook results`) does not need it

    config = current()
    if target is None:
        passed = True
    else:
        passed = value >= target if higher_is_better else value <= target
    record = {
        "chapter": f"{int(chapter):02d}",
        "metric": metric,
        "value": value,
        "target": None if target is None else float(target),
        "higher_is_better": higher_is_better,
        "passed": passed,
        "mode": config.mode,
        "backend": config.backend,
        "device": config.device,
        "precision": config.precision,
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
    relation = ">=" if higher_is_better else "<="
    if target is None:
        print(f"chapter {record['chapter']}: {metric} = {value:.4g} (no target); recorded in {path}")
        return
    verdict = "meets" if passed else "MISSES"
    print(f"chapter {record['chapter']}: {metric} = {value:.4g} {verdict} the {config.mode}-mode "
          f"target {relation} {target:g}; recorded in {path}")
    if not passed:
        raise AssertionError(f"Chapter {record['chapter']}: {metric} = {value:.4g}, target {relation} {target:g} "
                             f"({config.mode} mode, {config.backend}).")


def format_results(records: list[dict]) -> str:
    """The records as a Markdown table, as ``dlbook results`` prints them."""
    if not records:
        return "No results yet: run a chapter (`dlbook run 02`) or the book (`make book`)."
    lines = [
        "| chapter | metric | value | target | ok | mode | backend | device | precision | wall time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        relation = ">=" if r["higher_is_better"] else "<="
        target = "—" if r["target"] is None else f"{relation} {r['target']:g}"
        lines.append(
            f"| {r['chapter']} | {r['metric']} | {r['value']:.4g} | {target} | "
            f"{'yes' if r['passed'] else 'NO'} | {r['mode']} | {r['backend']} | {r['device']} | "
            f"{r['precision']} | {r['wall_time_s']:.0f} s |"
        )
    return "\n".join(lines)
