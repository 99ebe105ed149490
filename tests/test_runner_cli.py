"""The chapter runner and the dlbook command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dlbook import cli, runner, settings
from tests.conftest import ROOT


def test_chapters_are_listed_in_order_with_titles():
    names = [p.name for p in runner.chapter_files()]
    assert names[:3] == ["01_what_is_deep_learning.md", "02_tensors_autodiff.md", "03_bike_sharing.md"]
    assert names == sorted(names)
    assert runner.chapter_title(runner.find_chapter(3)).startswith("The bike-sharing predictor")
    assert runner.find_chapter("02") == runner.find_chapter("02_tensors") == ROOT / "chapters" / names[1]


def test_an_unknown_chapter_lists_the_available_ones():
    with pytest.raises(FileNotFoundError, match="No chapter '99'. Available chapters: 01, 02, 03"):
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


def test_execute_chapter_shuts_its_kernel_down_after_success_and_failure(isolated, tmp_path):
    """Each chapter's kernel exits when the chapter ends, so `dlbook run all` holds one at a time."""
    import time

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    print_pid = "```python\nimport os\nprint(os.getpid())\n```\n"
    for name, source in (("01_fine.md", print_pid), ("01_failing.md", print_pid + "\n```python\nraise RuntimeError('boom')\n```\n")):
        chapter = tmp_path / name
        chapter.write_text(f"# Pid\n\n{source}")
        try:
            runner.execute_chapter(chapter, cell_timeout=120)
        except Exception as error:
            assert "boom" in str(error)
        output = isolated / "build" / chapter.with_suffix(".ipynb").name
        pid = int("".join(json.loads(output.read_text())["cells"][1]["outputs"][0]["text"]))
        deadline = time.monotonic() + 30
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(pid), f"{name}'s kernel (pid {pid}) is still running"


def test_execute_chapter_reports_a_kernel_that_died(isolated, tmp_path):
    """A killed kernel (say, out of memory) is reported at once; it used to leave the run hanging."""
    from nbclient.exceptions import DeadKernelError

    chapter = tmp_path / "01_killed.md"
    chapter.write_text("# Killed\n\n```python\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n```\n\n"
                       "```python\nprint('never')\n```\n")
    with pytest.raises(DeadKernelError):
        runner.execute_chapter(chapter, cell_timeout=120)
    assert (isolated / "build" / "01_killed.ipynb").is_file()


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_an_executed_chapter_shows_no_framework_start_up_noise(isolated, tmp_path, monkeypatch, backend):
    """TensorFlow's C++ start-up lines (CUDA probes) stay out of the notebook, under every backend."""
    monkeypatch.setenv("KERAS_BACKEND", backend)  # the kernel inherits it
    # ipykernel forwards what C++ code writes to the kernel's stderr, but not under pytest.
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    chapter = tmp_path / "01_quiet.md"
    # The kernel forwards what C++ code writes to its stderr a moment later, so a second cell waits.
    chapter.write_text("# Quiet\n\n```python\nimport dlbook\nimport keras\n"
                       "config = dlbook.setup()\nprint(float(keras.ops.sum(keras.ops.ones(3))))\n```\n\n"
                       "```python\nimport time\ntime.sleep(2)\n```\n")
    cells = json.loads(runner.execute_chapter(chapter, cell_timeout=300).read_text())["cells"]
    outputs = [out for cell in cells if cell["cell_type"] == "code" for out in cell["outputs"]]
    stderr = "".join("".join(out["text"]) for out in outputs if out.get("name") == "stderr")
    assert stderr == ""
    stdout = "".join("".join(out["text"]) for out in outputs if out.get("name") == "stdout")
    assert f"backend={backend}" in stdout and "3.0" in stdout


def test_a_chapter_run_by_the_dlbook_command_hides_tensorflows_cpp_error_lines(isolated, tmp_path, monkeypatch):
    """The `dlbook` command sets TF_CPP_MIN_LOG_LEVEL=2 for itself; its chapter kernels, which
    inherit it, raise it to 3, or C++ "E0000 ..." lines (Grappler's remapper in chapter 08, oneDNN
    in chapter 11) reach the notebook. A level chosen to debug (0) is left alone."""
    chapter = tmp_path / "01_level.md"
    chapter.write_text("# Level\n\n```python\nimport os\nimport dlbook\n"
                       "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])\n```\n")
    for inherited, expected in [("2", "3"), ("0", "0")]:
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", inherited)
        cells = json.loads(runner.execute_chapter(chapter, cell_timeout=300).read_text())["cells"]
        assert "".join(cells[1]["outputs"][0]["text"]).strip() == expected


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


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_info_shows_no_framework_start_up_noise(isolated, backend):
    """TensorFlow's C++ start-up lines ("I0000 ... oneDNN custom operations are on", CUDA probes)
    stay out of `dlbook info`, which imports Keras (and, under JAX, TensorFlow when it seeds it);
    they once filled its stderr."""
    run = subprocess.run([sys.executable, "-m", "dlbook", "info"], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "KERAS_BACKEND": backend}, timeout=300)
    assert run.returncode == 0 and f"backend    {backend}" in run.stdout
    assert run.stderr == ""


def test_results_command_does_not_load_keras(isolated):
    """The table is plain JSON; loading a framework would print its start-up lines for nothing."""
    code = "import sys; from dlbook import cli; cli.main(['results']); print('keras' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0 and run.stdout.strip().splitlines()[-1] == "False", run.stderr
    assert run.stderr == ""


def test_run_chapters_reports_each_outcome_and_goes_on(isolated, tmp_path, capsys):
    good, bad = tmp_path / "01_good.md", tmp_path / "02_bad.md"
    good.write_text("# Good\n\n```python\nprint('fine')\n```\n")
    bad.write_text("# Bad\n\n```python\nraise ValueError('no good')\n```\n")
    outcomes = runner.run_chapters([bad, good])
    assert outcomes[0][:2] == (bad, None) and "no good" in outcomes[0][2]
    assert outcomes[1] == (good, None, None)
    out = capsys.readouterr().out
    assert "==> 02_bad.md: Bad" in out and "FAILED" in out and "done in" in out
    bad_log = runner.kernel_log_path(isolated / "build" / "02_bad.ipynb")
    assert f"(the kernel's own output, e.g. why it died: {bad_log})" in out


def test_run_chapters_runs_once_per_seed_and_keeps_each_notebook(isolated, tmp_path, capsys, monkeypatch):
    chapter = tmp_path / "01_seeds.md"
    chapter.write_text("# Seeds\n\n```python\nimport os\nprint('seed', os.environ['DLBOOK_SEED'])\n```\n")
    monkeypatch.setenv("DLBOOK_SEED", "7")
    outcomes = runner.run_chapters([chapter], seeds=[42, 1])
    assert outcomes == [(chapter, 42, None), (chapter, 1, None)]
    out = capsys.readouterr().out
    assert "==> 01_seeds.md (seed 42): Seeds" in out and "      seed 42" in out and "      seed 1" in out
    first, second = isolated / "build" / "01_seeds.ipynb", runner.seed_output(chapter, 1)
    assert second == isolated / "build" / "seeds" / "01_seeds-seed1.ipynb"
    assert "seed 42" in first.read_text() and "seed 1" in second.read_text()
    assert os.environ["DLBOOK_SEED"] == "7"  # the caller's seed is back


def test_cli_run_passes_seeds_and_refuses_bad_ones(isolated, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(runner, "run_chapters", lambda paths, seeds: calls.append(seeds) or [])
    assert cli.main(["run", "02", "--seeds", "42,1,2"]) == 0 and calls == [[42, 1, 2]]
    for bad in ("4x", "1,1", "-1", ","):
        assert cli.main(["run", "02", "--seeds", bad]) == 2
        assert capsys.readouterr().err.startswith("dlbook: error: --seeds takes")
    assert calls == [[42, 1, 2]]


def test_execute_chapter_streams_each_cell_and_its_output(isolated, tmp_path, capsys):
    chapter = tmp_path / "01_chatty.md"
    chapter.write_text(
        "# Chatty\n\n```python\nimport sys\nprint('first cell says hi')\n"
        # File descriptor 2 is the kernel process's own stderr (ipykernel leaves it alone under pytest).
        "import os\nos.write(2, b'the kernel process itself says this')\n```\n\nSome prose.\n\n"
        "```python\nprint('to stderr', file=sys.stderr)\nfor step in range(3):\n"
        "    print(f'\\rstep {step}', end='')\nprint()\n```\n"
    )
    runner.execute_chapter(chapter, cell_timeout=120)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("    cell 1/2, 0:") and lines[0].endswith(" elapsed: import sys")
    assert lines.index("      first cell says hi") == 1
    second = next(i for i, line in enumerate(lines) if line.startswith("    cell 2/2, "))
    assert lines[second].endswith(" elapsed: print('to stderr', file=sys.stderr)")
    # The kernel sends stdout and stderr separately, so their relative order may vary.
    slowest = next(i for i, line in enumerate(lines) if line.startswith("    slowest cells"))
    assert sorted(lines[second + 1:slowest]) == ["      step 2", "      to stderr"]
    kernel_log = runner.kernel_log_path(isolated / "build" / "01_chatty.ipynb")
    assert kernel_log == isolated / "build" / "01_chatty.kernel.log"
    assert "the kernel process itself says this" in kernel_log.read_text()
    assert not any("the kernel process itself" in line for line in lines)
    # It ends with the slowest cells (and writes all cells' times beside the notebook).
    assert any(line.startswith("    slowest cells (of 0:") for line in lines)
    timings = json.loads((isolated / "build" / "01_chatty.timings.json").read_text())
    assert [t["cell"] for t in timings["cells"]] == [1, 2] and timings["total_seconds"] >= 0


def test_progress_echo_prints_finished_lines_as_a_terminal_would_show_them(capsys):
    echo = runner.ProgressEcho(code_cell_indices=[1, 3])
    echo.stream_text("stdout", "Epoch 1/2\nloss: 0.")
    assert capsys.readouterr().out == "      Epoch 1/2\n"
    echo.stream_text("stdout", "5\n\r 1/9 ━\b\b\r 9/9 ━━\r\nno newline")
    echo.stream_text("stderr", "a warning\r\n")
    assert capsys.readouterr().out == "      loss: 0.5\n       9/9 ━━\n      a warning\n"
    echo.finish_streams()
    assert capsys.readouterr().out == "      no newline\n"
    echo.finish_streams()
    assert capsys.readouterr().out == ""


def test_progress_echo_times_each_cell_and_lists_the_slowest(capsys):
    import nbformat

    echo = runner.ProgressEcho(code_cell_indices=[0, 1])
    for index, source in enumerate(["fast()", "slow()"]):
        echo.cell_started(nbformat.v4.new_code_cell(source), cell_index=index)
        echo.cell_finished()
    echo.timings[1]["seconds"] = 90.0  # as if slow() had taken a minute and a half
    assert [t["source"] for t in echo.slowest()] == ["slow()", "fast()"]
    text = runner.format_slowest(echo.slowest(1), total_seconds=100.0)
    assert text.splitlines() == ["    slowest cells (of 1:40 in all):", "      cell   2     1:30   90%  slow()"]


def test_progress_echo_numbers_code_cells_and_shortens_long_first_lines(capsys):
    import nbformat

    echo = runner.ProgressEcho(code_cell_indices=[1, 3])
    echo.cell_started(nbformat.v4.new_code_cell("\n# " + "x" * 80 + "\nmore"), cell_index=3)
    line = capsys.readouterr().out.rstrip("\n")
    assert line.startswith("    cell 2/2, 0:0") and line.endswith(f" elapsed: # {'x' * 55}...")
    assert runner._clock(59) == "0:59" and runner._clock(3725) == "1:02:05"


@pytest.mark.parametrize(("variable", "value", "allowed"), [
    ("DLBOOK_MODE", "foo", "fast, full"),
    ("DLBOOK_PRECISION", "float64", "float32, mixed_bfloat16, mixed_float16"),
    ("KERAS_BACKEND", "theano", "tensorflow, jax, torch"),
])
def test_cli_run_rejects_a_bad_setting_before_starting_any_kernel(isolated, monkeypatch, capsys,
                                                                 variable, value, allowed):
    def must_not_run(paths, seeds):
        raise AssertionError("a kernel was started despite the bad setting")

    monkeypatch.setattr(runner, "run_chapters", must_not_run)
    monkeypatch.setenv(variable, value)
    assert cli.main(["run", "02"]) == 2
    captured = capsys.readouterr()
    expected = f"dlbook: error: ${variable} is {value!r}; expected one of {allowed} (or unset it for the default).\n"
    assert captured.err == expected
    assert captured.out == "" and not (isolated / "build").exists()


def test_python_m_dlbook_run_rejects_a_bad_backend_before_loading_keras(isolated):
    # In a fresh process: importing Keras with this backend would itself fail with a traceback.
    run = subprocess.run([sys.executable, "-m", "dlbook", "run", "02"], capture_output=True, text=True, cwd=ROOT,
                         timeout=120, env={**os.environ, "KERAS_BACKEND": "mxnet"})
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == ("dlbook: error: $KERAS_BACKEND is 'mxnet'; expected one of tensorflow, jax, torch "
                          "(or unset it for the default).\n")


def test_cli_run_says_how_to_install_a_missing_backend(isolated, monkeypatch, capsys):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "jax" else real_find_spec(name))
    monkeypatch.setattr(runner, "run_chapters", lambda paths, seeds: pytest.fail("a kernel was started without jax"))
    assert cli.main(["run", "02", "--backend", "jax"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dlbook: error: $KERAS_BACKEND is 'jax', but jax is not installed in this environment")
    assert "`pip install -e '.[jax]'`" in err and err.count("\n") == 1


def test_cli_run_accepts_good_settings_and_lets_flags_override_the_environment(isolated, monkeypatch, capsys):
    started = []
    monkeypatch.setattr(runner, "run_chapters",
                        lambda paths, seeds: started.extend(paths) or [(p, None, None) for p in paths])
    monkeypatch.setenv("DLBOOK_MODE", "foo")
    monkeypatch.setenv("DLBOOK_PRECISION", "mixed_bfloat16")
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert cli.main(["run", "02", "--mode", "fast"]) == 0
    assert started == [runner.find_chapter(2)] and capsys.readouterr().err == ""
    settings.check_run_settings()


def test_settings_load_without_keras():
    code = "import sys, dlbook.settings; print('keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


BACKEND_AT_START = os.environ.get("KERAS_BACKEND")


def test_cli_run_backend_flag_sets_the_environment_of_its_kernels(isolated, monkeypatch):
    monkeypatch.setattr(runner, "run_chapters", lambda paths, seeds: [(p, None, None) for p in paths])
    assert cli.main(["run", "02", "--backend", "torch"]) == 0
    assert os.environ["KERAS_BACKEND"] == "torch"  # direct write: the kernels it starts inherit it


def test_the_environment_is_restored_after_each_test():
    """Runs after the test above (same file, same process): conftest's restore_environment undid
    its direct write, which would otherwise reach every chapter kernel this worker starts later."""
    assert os.environ.get("KERAS_BACKEND") == BACKEND_AT_START


def test_first_heading_skips_lower_headings_and_falls_back():
    assert runner.first_heading("intro\n## Part\n# The title \n# Later", default="x") == "The title"
    assert runner.first_heading("no heading here\n## only a section", default="03_bike") == "03_bike"
