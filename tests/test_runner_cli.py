"""The chapter runner and the dlbook command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dlbook import cli, runner
from tests.conftest import ROOT


def test_chapters_are_listed_in_order_with_titles():
    names = [p.name for p in runner.chapter_files()]
    assert names[:2] == ["02_tensors_autodiff.md", "03_bike_sharing.md"] and names == sorted(names)
    assert runner.chapter_title(runner.find_chapter(3)).startswith("The bike-sharing predictor")
    assert runner.find_chapter("02") == runner.find_chapter("02_tensors") == ROOT / "chapters" / names[0]


def test_an_unknown_chapter_lists_the_available_ones():
    with pytest.raises(FileNotFoundError, match="No chapter '99'. Available chapters: 02, 03"):
        runner.find_chapter("99")


def test_execute_chapter_writes_an_executed_notebook(isolated, tmp_path):
    chapter = tmp_path / "chapters" / "01_demo.md"
    chapter.parent.mkdir()
    chapter.write_text("# Demo\n\n```python\nimport os\nprint(os.getcwd())\n```\n")
    output = runner.execute_chapter(chapter, cell_timeout=120)
    assert output == isolated / "build" / "01_demo.ipynb"
    cell = json.loads(output.read_text())["cells"][1]
    assert "".join(cell["outputs"][0]["text"]).strip() == str(chapter.parent)


def test_execute_chapter_keeps_the_notebook_of_a_failing_chapter(isolated, tmp_path):
    chapter = tmp_path / "01_broken.md"
    chapter.write_text("# Broken\n\n```python\nraise RuntimeError('boom')\n```\n")
    with pytest.raises(Exception, match="boom"):
        runner.execute_chapter(chapter, cell_timeout=120)
    assert (isolated / "build" / "01_broken.ipynb").is_file()


def test_cli_list(capsys):
    assert cli.main(["list"]) == 0
    assert "03  The bike-sharing predictor" in capsys.readouterr().out


def test_cli_data_list_shows_every_dataset(capsys):
    from dlbook.hub import DATA_HUB

    assert cli.main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in DATA_HUB)


def test_cli_data_fetch_and_verify(toy, monkeypatch, capsys):
    monkeypatch.setenv("DLBOOK_MIRROR", str(toy.mirror))
    assert cli.main(["data", "fetch", "toy"]) == 0
    assert str(toy.cache_file) in capsys.readouterr().out
    assert cli.main(["data", "verify", "toy"]) == 0
    assert "ok       toy/toy.txt" in capsys.readouterr().out
    toy.cache_file.write_bytes(b"bad")
    assert cli.main(["data", "verify", "toy"]) == 1


def test_cli_errors_are_one_clear_line(isolated, capsys):
    assert cli.main(["data", "fetch", "mnsit"]) == 2
    assert "dlbook: error: Unknown dataset 'mnsit'. Did you mean mnist" in capsys.readouterr().err
    assert cli.main(["run", "99"]) == 2


def test_cli_results_and_info(isolated, capsys):
    assert cli.main(["results"]) == 0
    assert "No results yet" in capsys.readouterr().out
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "keras" in out and "backend" in out and "mode       fast" in out


def test_python_m_dlbook_runs(isolated):
    run = subprocess.run([sys.executable, "-m", "dlbook", "data", "verify", "bike_sharing"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0 and "missing  bike_sharing/hour.csv" in run.stdout


def test_run_chapters_reports_each_outcome_and_goes_on(isolated, tmp_path, capsys):
    good, bad = tmp_path / "01_good.md", tmp_path / "02_bad.md"
    good.write_text("# Good\n\n```python\nprint('fine')\n```\n")
    bad.write_text("# Bad\n\n```python\nraise ValueError('no good')\n```\n")
    outcomes = runner.run_chapters([bad, good])
    assert outcomes[0][0] == bad and "no good" in outcomes[0][1]
    assert outcomes[1] == (good, None)
    out = capsys.readouterr().out
    assert "==> 02_bad.md: Bad" in out and "FAILED" in out and "done in" in out
