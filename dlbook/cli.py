"""The ``dlbook`` command (also ``python -m dlbook``)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib import metadata

from dlbook import apps, settings


def _list(args) -> int:
    from dlbook.runner import chapter_files, chapter_title

    for path in chapter_files():
        print(f"{path.name[:2]}  {chapter_title(path)}  ({path.name})")
    return 0


def parse_seeds(text: str | None) -> list[int] | None:
    """``"42,1,2"`` → ``[42, 1, 2]`` (None stays None: the chapter's default seed)."""
    if text is None:
        return None
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--seeds takes whole numbers separated by commas, e.g. 42,1,2; got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"--seeds takes distinct non-negative whole numbers, e.g. 42,1,2; got {text!r}")
    return seeds


def _run(args) -> int:
    from dlbook.paths import absolutize_path_variables
    from dlbook.runner import chapter_files, find_chapter, run_chapters

    if args.mode:
        os.environ["DLBOOK_MODE"] = args.mode
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    seeds = parse_seeds(args.seeds)
    settings.check_run_settings()
    absolutize_path_variables()
    paths = chapter_files() if args.chapters == ["all"] else [find_chapter(n) for n in args.chapters]
    outcomes = run_chapters(paths, seeds=seeds)
    from dlbook.results import format_results, load_results  # no Keras: the table is plain JSON

    failed = [f"{path.name} (seed {seed})" if seed is not None else path.name for path, seed, error in outcomes if error]
    print()
    print(format_results(load_results()))
    if failed:
        print(f"\n{len(failed)} run(s) failed: {', '.join(failed)}. "
              "The executed notebooks in build/ show where.", file=sys.stderr)
        return 1
    return 0


def _results(args) -> int:
    from dlbook.results import format_book_table, format_results, load_results

    print(format_book_table(load_results()) if args.book else format_results(load_results()))
    return 0


def _data(args) -> int:
    from dlbook import data
    from dlbook.hub import DATA_HUB

    if args.action == "list":
        for ds in DATA_HUB.values():
            chapters = ", ".join(str(c) for c in ds.chapters)
            source = f"PyPI package {ds.package}" if ds.package else f"{len(ds.files)} file(s)"
            print(f"{ds.name:20} ch. {chapters:8} {source:32} {ds.license}")
            print(f"{'':20} {ds.description}")
        return 0
    names = [n for n, ds in DATA_HUB.items() if not ds.package] if args.name in (None, "all") else [args.name]
    if args.action == "fetch":
        for name in names:
            files = [args.file] if args.file else [f.name for f in data.dataset(name).files]
            for file in files:
                print(data.fetch(name, file))
        return 0
    report = data.verify(None if args.name in (None, "all") else args.name)
    for name, file, status in report:
        print(f"{status:8} {name}/{file}")
    return 1 if any(status == "corrupt" for _, _, status in report) else 0


def _info(args) -> int:
    from dlbook import _import_frameworks_quietly, machine

    _import_frameworks_quietly()  # before dlbook.config imports it: TensorFlow's start-up lines stay hidden
    from dlbook.config import setup
    from dlbook.paths import build_dir, data_dir

    config = setup(verbose=False)
    print(f"python     {platform.python_version()} ({sys.executable})")
    for package in ("keras", "tensorflow", "jax", "jaxlib", "torch", "numpy"):
        try:
            print(f"{package:10} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            print(f"{package:10} not installed")
    print(f"cpu        {machine.detect().summary()}")
    print(f"backend    {config.backend}\ndevice     {config.device}\nmode       {config.mode}")
    print(f"precision  {config.precision}\ndata cache {data_dir()}\nmirror     {os.environ.get('DLBOOK_MIRROR') or '-'}")
    print(f"build      {build_dir()}")
    return 0


def _texts_or_file(texts: list[str], file: str | None, what: str) -> tuple[list[str], bool]:
    """The texts of the command line, or the lines of ``--file``; and whether they came from a file."""
    from dlbook.apps import InvalidInput, read_lines

    if bool(texts) == bool(file):
        raise InvalidInput(f"give {what}s on the command line, or --file F with one {what} a line (not both)")
    return (read_lines(file, what), True) if file else (texts, False)


def _sentiment(args) -> int:
    from dlbook import apps

    texts, from_file = _texts_or_file(args.texts, args.file, "review")
    for p, text in zip(apps.sentiment(texts), texts):
        print(f"{p:.4f}" if from_file else f"{p:.4f}  {'positive' if p >= 0.5 else 'negative'}  {text}")
    return 0


def _similar(args) -> int:
    from dlbook import apps

    for word, cosine in apps.similar(args.word, top=args.top):
        print(f"{word}\t{cosine:.3f}")
    return 0


def _translate(args) -> int:
    from dlbook import apps

    sentences, from_file = _texts_or_file(args.sentences, args.file, "sentence")
    for sentence, translation in zip(sentences, apps.translate(sentences, model=args.model, beam=args.beam)):
        print(translation if from_file else f"{sentence}\t{translation}")
    return 0


def _stylize(args) -> int:
    from dlbook import apps

    result = apps.stylize(args.content, args.style, args.output, size=args.size, steps=args.steps)
    print(result.output)
    return 0


def _compose(args) -> int:
    from dlbook import apps

    song = apps.compose(args.output, seconds=args.seconds, temperature=args.temperature, seed=args.seed, wav=args.wav)
    print(f"{song.midi}\t{song.notes} notes, {song.seconds:.1f} s")
    if song.wav is not None:
        print(song.wav)
    return 0


def _play(args) -> int:
    from dlbook import apps

    games = apps.play(episodes=args.episodes, gif=args.gif, seed=args.seed)
    for episode, score in enumerate(games.scores, start=1):
        print(f"episode {episode}\t{score} pipes")
    if games.gif is not None:
        print(games.gif)
    return 0


def _models(args) -> int:
    from dlbook import cache

    if args.remove:
        for removed in cache.remove_entries(args.remove):
            print(f"removed {removed}")
        return 0
    rows = cache.list_entries()
    if not rows:
        print("The model cache is empty: chapters and apps fill it as they train.")
        return 0
    print("| id | mode | backend | precision | recipe | size | trained | metrics |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in row.get("metrics", {}).items()) or "—"
        print(f"| {row['id']} | {row['mode']} | {row['backend']} | {row['precision']} | {row['key']} | "
              f"{row['size'] / 1e6:.1f} MB | {row['trained_at'][:16].replace('T', ' ')} | {metrics} |")
    return 0


def _html(args) -> int:
    from dlbook.runner import find_chapter
    from dlbook.site.build import build_site

    chapter = find_chapter(args.chapter).name[:2]  # refused before minutes of building if it does not exist
    index = build_site(args.build, args.out)
    print(index)
    if args.check:
        from dlbook.site.browser import check_site

        report = check_site(index.parent, chapter=chapter)
        for problem in report["problems"]:
            print(f"problem: {problem}", file=sys.stderr)
        return 1 if report["problems"] else 0
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlbook", description="Run and manage the dlbook chapters.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the chapters").set_defaults(func=_list)
    run = commands.add_parser("run", help="execute chapters into build/ (e.g. `dlbook run 03`, `dlbook run all`)")
    run.add_argument("chapters", nargs="+", help="chapter numbers, or 'all'")
    run.add_argument("--mode", choices=settings.MODES, help="default: $DLBOOK_MODE, else full on a GPU, fast on a CPU")
    run.add_argument("--backend", choices=settings.BACKENDS, help="default: $KERAS_BACKEND, else tensorflow")
    run.add_argument("--seeds", help="run each chapter once per seed, e.g. 42,1,2 (default: $DLBOOK_SEED, else 42)")
    run.set_defaults(func=_run)
    results = commands.add_parser("results", help="print build/results.json as a table")
    results.add_argument("--book", action="store_true",
                         help="the README's table: fast and full values (TensorFlow, float32) side by side")
    results.set_defaults(func=_results)
    data = commands.add_parser("data", help="the dataset hub")
    data.add_argument("action", choices=("list", "fetch", "verify"))
    data.add_argument("name", nargs="?", help="a dataset name, or 'all' (default)")
    data.add_argument("--file", help="one file of the dataset (fetch only)")
    data.set_defaults(func=_data)
    commands.add_parser("info", help="versions, backend, device, mode, precision").set_defaults(func=_info)
    similar = commands.add_parser("similar", help="the words of 红楼梦 nearest to a word (chapter 09's word vectors)")
    similar.add_argument("word", help="a word of the novel, e.g. 宝玉")
    similar.add_argument("--top", type=int, default=10, help="how many neighbours, 1 to 100 (default 10)")
    similar.set_defaults(func=_similar)
    sentiment = commands.add_parser(
        "sentiment", help="P(positive) of Chinese reviews by chapter 04's classifier (trained first if not cached)")
    sentiment.add_argument("texts", nargs="*", help='reviews, e.g. "这个手机太好用了"')
    sentiment.add_argument("--file", help="a UTF-8 file with one review a line: prints one probability a line")
    sentiment.set_defaults(func=_sentiment)
    translate = commands.add_parser(
        "translate", help="Chinese → English by chapter 11's or 13's translator (trained first if not cached)")
    translate.add_argument("sentences", nargs="*", help='Chinese sentences, e.g. "我们走吧。"')
    translate.add_argument("--file", help="a UTF-8 file with one sentence a line: prints one translation a line")
    translate.add_argument("--model", choices=apps.TRANSLATORS, default=apps.DEFAULT_TRANSLATOR,
                           help="chapter 11's GRU with attention (rnn) or chapter 13's Transformer "
                                f"(default: {apps.DEFAULT_TRANSLATOR}, the higher test BLEU)")
    translate.add_argument("--beam", type=int, default=5, help="beam width (default 5; 1 is greedy decoding)")
    translate.set_defaults(func=_translate)
    stylize = commands.add_parser(
        "stylize", help="paint a photo in a painting's style by chapter 07's style transfer")
    stylize.add_argument("content", help="the photo (PNG, JPEG, …)")
    stylize.add_argument("--style", required=True,
                         help=f"a bundled painting ({', '.join(apps.PAINTINGS)}) or the path of an image")
    stylize.add_argument("-o", "--output", required=True, help="the picture to write (.png or .jpg)")
    stylize.add_argument("--size", type=int, default=384, help="longer side in pixels, 32 to 1024 (default 384)")
    stylize.add_argument("--steps", type=int, default=300, help="L-BFGS iterations, 1 to 2000 (default 300)")
    stylize.set_defaults(func=_stylize)
    compose = commands.add_parser(
        "compose", help="a new chorale by chapter 10's LSTM composer, as MIDI (trained first if not cached)")
    compose.add_argument("-o", "--output", required=True, help="the MIDI file to write (.mid)")
    compose.add_argument("--seconds", type=float, default=30.0, help="length in seconds, up to 600 (default 30)")
    compose.add_argument("--temperature", type=float, default=0.8,
                         help="sampling temperature: lower is safer, higher is bolder (default 0.8)")
    compose.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable chorale")
    compose.add_argument("--wav", default=None, help="also render the chorale to this WAV file")
    compose.set_defaults(func=_compose)
    play = commands.add_parser(
        "play", help="chapter 12's DQN plays Flappy Bird (trained first if not cached); prints each score")
    play.add_argument("--episodes", type=int, default=5, help="how many games, 1 to 100 (default 5)")
    play.add_argument("--gif", default=None, help="write the first game as an animated GIF here")
    play.add_argument("--seed", type=int, default=None, help="the first game's seed, for repeatable games")
    play.set_defaults(func=_play)
    models = commands.add_parser("models", help="list the model cache (or --remove entries)")
    models.add_argument("--remove", nargs="+", metavar="NAME_OR_ID", help="remove cached models by name or id")
    models.set_defaults(func=_models)
    html = commands.add_parser("html", help="render the executed chapters of build/ as a website (build/html/)")
    html.add_argument("--build", default=None, help="the folder of executed notebooks (default: build/)")
    html.add_argument("--out", default=None, help="where to write the site (default: BUILD/html)")
    html.add_argument("--check", action="store_true", help="then open it in headless Chromium and check it")
    html.add_argument("--chapter", default="05", help="the chapter page to check (default 05)")
    html.set_defaults(func=_html)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; bad input of any subcommand (an app's :class:`~dlbook.apps.InvalidInput`, a
    bad setting, a missing dataset) is one line on stderr, ``dlbook: error: …``, and exit status 2."""
    args = build_parser().parse_args(argv)
    from dlbook.data import DataError

    try:
        return args.func(args)
    except (DataError, FileNotFoundError, ValueError) as error:
        print(f"dlbook: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
