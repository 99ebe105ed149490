"""The six apps as one family: bad input is refused before any model is loaded or trained, in one
line on the command line and as :class:`dlbook.apps.InvalidInput` in Python, and nothing is written."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import dlbook
from dlbook import apps, cache, cli
from tests.conftest import ROOT


@pytest.fixture
def no_model(isolated, monkeypatch):
    """Fast mode in an empty checkout, where loading or training any model fails the test."""
    dlbook.setup(mode="fast", verbose=False)

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded or trained for bad input")

    monkeypatch.setattr(cache, "load_for_app", refuse)
    monkeypatch.setattr(cache, "load_or_train", refuse)
    out = isolated / "out"
    out.mkdir()
    (out / "folder.png").mkdir()
    (out / "empty.txt").write_text("", encoding="utf-8")
    (out / "photo.png").write_bytes(b"not really a picture")
    return out


def bad_calls(out):
    """(command line, the Python call, the words the message must contain) for each kind of bad input."""
    missing = out / "missing" / "x"
    return [
        (["sentiment", "--file", str(out / "empty.txt")], lambda: apps.sentiment(apps.read_lines(out / "empty.txt")),
         "is empty"),
        (["sentiment", "--file", str(out)], lambda: apps.sentiment(apps.read_lines(out)), "is a folder"),
        (["sentiment"], lambda: apps.sentiment([]), "give"),
        (["similar", "宝玉", "--top", "0"], lambda: apps.similar("宝玉", top=0), "top must be between 1 and 100"),
        (["similar", "宝玉", "--top", "100000"], lambda: apps.similar("宝玉", top=100000), "top must be between"),
        (["similar", ""], lambda: apps.similar(""), "word must be one word"),
        (["similar", "两个 词"], lambda: apps.similar("两个 词"), "word must be one word"),
        (["translate", "好", "--beam", "0"], lambda: apps.translate("好", beam=0), "beam must be between 1 and 20"),
        (["translate", "好", "--beam", "-3"], lambda: apps.translate("好", beam=-3), "beam must be between"),
        (["translate", "--file", str(out / "none.txt")], lambda: apps.translate(apps.read_lines(out / "none.txt")),
         "no such file"),
        (["stylize", str(out / "photo.png"), "--style", "starry_night", "-o", str(out / "o.png"), "--size", "0"],
         lambda: apps.stylize(out / "photo.png", "starry_night", out / "o.png", size=0), "size must be between 32"),
        (["stylize", str(out / "photo.png"), "--style", "starry_night", "-o", str(out / "o.png"), "--size", "99999"],
         lambda: apps.stylize(out / "photo.png", "starry_night", out / "o.png", size=99999), "size must be between"),
        (["stylize", str(out / "photo.png"), "--style", "starry_night", "-o", str(out / "o.png"), "--steps", "-1"],
         lambda: apps.stylize(out / "photo.png", "starry_night", out / "o.png", steps=-1), "steps must be between"),
        (["stylize", str(out), "--style", "starry_night", "-o", str(out / "o.png")],
         lambda: apps.stylize(out, "starry_night", out / "o.png"), "is a folder"),
        (["stylize", str(out / "photo.png"), "--style", "starry_night", "-o", str(missing) + ".png"],
         lambda: apps.stylize(out / "photo.png", "starry_night", str(missing) + ".png"), "does not exist"),
        (["stylize", str(out / "photo.png"), "--style", "starry_night", "-o", str(out / "folder.png")],
         lambda: apps.stylize(out / "photo.png", "starry_night", out / "folder.png"), "is a folder"),
        (["stylize", str(out / "photo.png"), "--style", "starry_night", "-o", str(out / "o.png")],
         lambda: apps.stylize(out / "photo.png", "starry_night", out / "o.png"), "not an image"),
        (["compose", "-o", str(out / "c.mid"), "--seed", "-1"], lambda: apps.compose(out / "c.mid", seed=-1),
         "seed must be a whole number from 0"),
        (["compose", "-o", str(out / "c.mid"), "--temperature", "0"],
         lambda: apps.compose(out / "c.mid", temperature=0), "temperature must be between"),
        (["compose", "-o", str(out / "c.mid"), "--seconds", "1e9"], lambda: apps.compose(out / "c.mid", seconds=1e9),
         "seconds must be between"),
        (["compose", "-o", str(out / "c.mid"), "--seconds", "nan"],
         lambda: apps.compose(out / "c.mid", seconds=float("nan")), "seconds must be a number"),
        (["compose", "-o", str(missing) + ".mid"], lambda: apps.compose(str(missing) + ".mid"), "does not exist"),
        (["compose", "-o", str(out / "c.txt")], lambda: apps.compose(out / "c.txt"), "should end in .mid"),
        (["compose", "-o", str(out / "c.mid"), "--wav", str(out / "c.mp3")],
         lambda: apps.compose(out / "c.mid", wav=out / "c.mp3"), "should end in .wav"),
        (["play", "--episodes", "0"], lambda: apps.play(episodes=0), "episodes must be between 1 and 100"),
        (["play", "--episodes", "100000"], lambda: apps.play(episodes=100000), "episodes must be between"),
        (["play", "--seed", "-1"], lambda: apps.play(seed=-1), "seed must be a whole number from 0"),
        (["play", "--gif", str(missing) + ".gif"], lambda: apps.play(gif=str(missing) + ".gif"), "does not exist"),
        (["play", "--gif", str(out / "g.png")], lambda: apps.play(gif=out / "g.png"), "should end in .gif"),
    ]


def test_every_app_refuses_bad_input_in_one_line_before_any_model(no_model, capsys):
    before = sorted(p.name for p in no_model.iterdir())
    for argv, call, words in bad_calls(no_model):
        assert cli.main(argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.out == "", argv
        assert captured.err.startswith("dlbook: error: ") and captured.err.count("\n") == 1, (argv, captured.err)
        assert words in captured.err, (argv, captured.err)
        with pytest.raises(apps.InvalidInput, match=words.replace(".", r"\.")):
            call()
    assert sorted(p.name for p in no_model.iterdir()) == before  # nothing written


def test_messages_name_no_command_line_flags(no_model):
    for _, call, _ in bad_calls(no_model):
        with pytest.raises(apps.InvalidInput) as raised:
            call()
        assert "--" not in str(raised.value), str(raised.value)


def test_the_apps_share_one_shape():
    """Keyword names as the command line names its options, a progress switch, documented returns."""
    parameters = {name: list(inspect.signature(getattr(apps, name)).parameters)
                  for name in ("sentiment", "similar", "translate", "stylize", "compose", "play")}
    assert parameters == {
        "sentiment": ["texts", "progress"],
        "similar": ["word", "top", "progress"],
        "translate": ["sentences", "model", "beam", "progress"],
        "stylize": ["content", "style", "output", "size", "steps", "progress"],
        "compose": ["output", "seconds", "temperature", "seed", "wav", "progress"],
        "play": ["episodes", "gif", "seed", "progress"],
    }
    for name in parameters:
        assert getattr(apps, name).__doc__ and f"{name} " in apps.__doc__  # documented, and in the module's table
    assert issubclass(apps.InvalidInput, ValueError)


def test_check_output_is_one_rule(tmp_path):
    assert apps.check_output(tmp_path / "a.mid", (".mid",), "MIDI") == tmp_path / "a.mid"
    for path, words in ((tmp_path / "new" / "a.mid", "does not exist; create it first"),
                        (tmp_path / "a.MID.txt", "should end in .mid"), (tmp_path, "should end in")):
        with pytest.raises(apps.InvalidInput, match=words):
            apps.check_output(path, (".mid",), "MIDI")
    assert not (tmp_path / "new").exists()


def test_read_lines_keeps_empty_lines_and_refuses_what_is_not_utf8_text(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("\ufeff一\n\n三\n", encoding="utf-8")
    assert apps.read_lines(text) == ["一", "", "三"]
    latin = tmp_path / "latin.txt"
    latin.write_bytes("très\n".encode("latin-1"))
    with pytest.raises(apps.InvalidInput, match="not UTF-8"):
        apps.read_lines(latin)


def test_bad_flags_exit_with_two_and_one_usage_error():
    run = subprocess.run([sys.executable, "-m", "dlbook", "play", "--episodes", "many"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2 and run.stdout == "" and "invalid int value: 'many'" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_site_command_refuses_a_missing_chapter_before_building(tmp_path, capsys):
    out = tmp_path / "html"
    assert cli.main(["html", "--build", str(tmp_path), "--out", str(out), "--check", "--chapter", "99"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("dlbook: error: No chapter '99'")
    assert not out.exists()
