"""Plots that several chapters draw: learning curves, predictions against the truth, image grids.

Importing this module also lets every figure show Chinese characters (:func:`use_chinese_font`),
labels date axes concisely (no overlapping dates), and, in a notebook, shows figures sharp on high-density screens with an alt text made of their
titles (:func:`show_figures_sharp`). Image grids wrap into rows no wider than
:data:`MAX_FIGURE_WIDTH`, so that each picture stays legible on a phone.
"""

from __future__ import annotations

import functools

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager


@functools.cache
def _register_chinese_font() -> str:
    """Add Noto Sans SC, which the package pylopdf-fonts-zh-cn ships, to matplotlib; its family name."""
    from pylopdf_fonts_zh_cn import (
        sans_path,  # Noto Sans SC Regular, SIL Open Font License 1.1
    )

    path = str(sans_path())
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


def use_chinese_font() -> str:
    """Let figures show Chinese text on any machine, offline; returns the font's family name.

    Registers Noto Sans SC (shipped in a Python package, so no system font is needed) with
    matplotlib's font manager once, and appends it to ``rcParams["font.family"]``: matplotlib
    draws each character with the first family that has it, so Latin text keeps the default
    font (DejaVu Sans) and Chinese characters come from Noto instead of empty boxes. Called when
    this module is imported; call it again after resetting matplotlib's settings.
    """
    name = _register_chinese_font()
    families = list(mpl.rcParams["font.family"])
    if name not in families:
        mpl.rcParams["font.family"] = [*families, name]
    return name


use_chinese_font()
# Dates on an axis as "Jan 02 … 10 / 2011" instead of full dates that overlap (chapter 03's hours).
mpl.rcParams["date.converter"] = "concise"

MAX_FIGURE_WIDTH = 8.0  # inches: a grid wider than this wraps into more rows (a phone shows ~4 in of it)


def figure_alt_text(fig) -> str:
    """A figure described by its titles, for readers who cannot see it: the suptitle and the axes'
    titles (or, without titles, what their axes show); a grid of many titled pictures by its size."""
    parts = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        parts.append(suptitle.get_text())
    axes = [ax for ax in fig.axes if ax.get_visible()]
    titles = [ax.get_title() or ax.get_title("left") or ax.get_title("right") for ax in axes]
    titles = [t for t in titles if t]
    pictures = sum(1 for ax in axes if ax.images and not ax.axison)
    if pictures > 4 and len(titles) > 4:
        parts.append(f"{pictures} images titled " + ", ".join(titles[:6]) + ("…" if len(titles) > 6 else ""))
    elif titles:
        parts += titles
    else:
        for ax in axes:
            x, y = ax.get_xlabel(), ax.get_ylabel()
            if x or y:
                parts.append(f"{y or 'values'} against {x or 'index'}")
    text = "; ".join(dict.fromkeys(p.replace("\n", " ").strip() for p in parts if p.strip()))
    return (text[:297] + "…" if len(text) > 300 else text) or "Figure"


def _png_with_alt_text(fig, density: float = 2.0, **print_options):
    """``fig`` as a base64 PNG drawn at ``density`` times its size, and its display metadata: the
    size in CSS pixels (so it shows at its normal size, sharp) and ``alt`` (:func:`figure_alt_text`)."""
    import base64

    from IPython.core.pylabtools import _pngxy, print_figure

    data = print_figure(fig, fmt="png", base64=False, dpi=fig.dpi * density, **print_options)
    if data is None:  # an empty figure: nothing to show, as IPython's own formatter does
        return None
    width, height = _pngxy(data)
    metadata = {"width": round(width / density), "height": round(height / density), "alt": figure_alt_text(fig)}
    return base64.b64encode(data).decode("ascii"), metadata


def show_figures_sharp(density: float = 2.0) -> bool:
    """In a notebook with matplotlib's inline backend, show each figure as a PNG of ``density``
    times its pixels (sharp on a high-density screen; the book's website stores it compactly) with
    its alt text. Returns whether it did (False outside a notebook kernel)."""
    import functools
    import os
    import sys

    if "ipykernel" not in sys.modules or "inline" not in os.environ.get("MPLBACKEND", "inline"):
        return False
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return False
    import matplotlib_inline.backend_inline as inline  # sets up the inline backend's own formatters first
    from matplotlib.figure import Figure

    options = dict(inline.InlineBackend.instance().print_figure_kwargs)
    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, functools.partial(_png_with_alt_text, density=density, **options))
    return True


show_figures_sharp()


def plot_history(history, metrics=("loss",), ax=None, title: str | None = None, log_scale: bool = False):
    """Learning curves from a Keras ``History`` (or its ``.history`` dict): training and validation.

    Returns the Axes, so a chapter can add to the plot.
    """
    curves = getattr(history, "history", history)
    missing = [m for m in metrics if m not in curves]
    if missing:
        raise KeyError(f"No {missing} in the history; it has {sorted(curves)}.")
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for metric in metrics:
        epochs = range(1, len(curves[metric]) + 1)
        ax.plot(epochs, curves[metric], label=f"training {metric}")
        if f"val_{metric}" in curves:
            ax.plot(epochs, curves[f"val_{metric}"], "--", label=f"validation {metric}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(", ".join(metrics))
    if log_scale:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def plot_predictions(x, actual, predicted: dict, ax=None, title: str | None = None, ylabel: str | None = None):
    """The truth as a line and each model's predictions beside it.

    ``predicted`` maps a label (e.g. a model's name) to its predictions, aligned with ``x``.
    """
    ax = ax or plt.subplots(figsize=(10, 3.5))[1]
    ax.plot(x, actual, color="black", linewidth=1.5, label="actual")
    for label, values in predicted.items():
        ax.plot(x, values, linewidth=1, label=label)
    if title:
        ax.set_title(title)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.legend()
    return ax


def plot_images(images, titles=None, columns: int = 10, size: float = 1.1, cmap: str = "gray", title: str | None = None):
    """A grid of images (N, H, W) or (N, H, W, 1), each with an optional title; returns the Figure.

    Each image is ``size`` inches wide (its height follows its aspect ratio) and scaled to its own
    range, which suits digits, filters and feature maps alike. At most ``columns`` a row, and fewer
    when the row would be wider than :data:`MAX_FIGURE_WIDTH`.
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"Expected images of shape (N, H, W) or (N, H, W, 1), got {images.shape}.")
    columns = max(1, min(columns, len(images)))
    rows = int(np.ceil(len(images) / columns))
    title_space = 0.25 if titles is not None else 0.05
    figsize = (columns * size, rows * (size * images.shape[1] / images.shape[2] + title_space))
    return image_grid(images, rows, columns, figsize, titles, title, fontsize=8, cmap=cmap)


def image_grid(images, rows: int, columns: int, figsize, titles=None, title: str | None = None,
               fontsize: float = 8, **imshow_options):
    """The Figure of ``images`` drawn with ``imshow`` into a ``rows`` × ``columns`` grid of bare axes,
    each with its title if ``titles`` are given (the shared part of the image grids of dlbook).

    A grid wider than :data:`MAX_FIGURE_WIDTH` wraps: fewer columns, more rows, each picture kept
    at its size, so that a long strip stays legible on a narrow screen.
    """
    cell_width, cell_height = figsize[0] / columns, figsize[1] / rows
    if figsize[0] > MAX_FIGURE_WIDTH and columns > 1:
        columns = max(1, int(MAX_FIGURE_WIDTH // cell_width))
        columns = -(-len(images) // -(-len(images) // columns))  # the same rows, filled evenly
        rows = -(-len(images) // columns)
        figsize = (columns * cell_width, rows * cell_height)
    fig, axes = plt.subplots(rows, columns, figsize=figsize, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], **imshow_options)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=fontsize)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix, ax=None, title: str | None = None):
    """A confusion matrix (rows: true class, columns: predicted) with its counts written in."""
    matrix = np.asarray(matrix)
    ax = ax or plt.subplots(figsize=(5.5, 5))[1]
    ax.imshow(np.log1p(matrix), cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if i == j else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_yticks(range(matrix.shape[0]))
    if title:
        ax.set_title(title)
    return ax


def plot_attention(weights, source_tokens, target_tokens, ax=None, title: str | None = None):
    """An attention map as a heat map: a row per output word, a column per source token.

    ``weights`` is ``(len(target_tokens), len(source_tokens))`` (rows sum to 1); Chinese labels
    show thanks to :func:`use_chinese_font`. Returns the Axes.
    """
    weights = np.asarray(weights)
    if weights.shape != (len(target_tokens), len(source_tokens)):
        raise ValueError(f"weights of shape {weights.shape} for {len(target_tokens)} output and "
                         f"{len(source_tokens)} source tokens")
    ax = ax or plt.subplots(figsize=(0.45 * len(source_tokens) + 1.5, 0.35 * len(target_tokens) + 1))[1]
    ax.imshow(weights, cmap="Blues", vmin=0, vmax=max(float(weights.max(initial=0)), 1e-9), aspect="auto")
    ax.set_xticks(range(len(source_tokens)), source_tokens)
    ax.set_yticks(range(len(target_tokens)), target_tokens)
    ax.tick_params(axis="x", top=True, bottom=False, labeltop=True, labelbottom=False)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_decision_regions(score, points, labels, ax=None, extent=(-0.5, 1.5, -0.5, 1.5), threshold: float = 0.5,
                          resolution: int = 200, title: str | None = None, axis_labels=("$x_1$", "$x_2$")):
    """How a classifier of 2-D points splits the plane: its score shaded, its boundary, and the labelled points.

    ``score`` maps an ``(n, 2)`` array of points to ``n`` numbers between 0 and 1 (a probability, a
    0/1 decision, a hidden unit's activation). It is evaluated on a ``resolution`` × ``resolution``
    grid over ``extent`` ``(x_min, x_max, y_min, y_max)`` and shaded from blue (0) to red (1); the
    line where it crosses ``threshold`` is drawn in black (if it crosses it at all). ``points`` of
    label 1 are red circles, of label 0 blue squares. Returns the Axes.
    """
    points, labels = np.asarray(points, dtype="float64"), np.asarray(labels).reshape(-1)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(f"Expected points of shape (n, 2) and n labels, got {points.shape} and {labels.shape}.")
    x_min, x_max, y_min, y_max = extent
    grid_x, grid_y = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    values = np.asarray(score(grid), dtype="float64").reshape(-1)
    if values.shape != (len(grid),):
        raise ValueError(f"score gave {values.size} values for {len(grid)} points; it must give one per point.")
    values = values.reshape(grid_x.shape)
    ax = ax or plt.subplots(figsize=(3.5, 3.5))[1]
    ax.imshow(values, extent=extent, origin="lower", cmap="RdBu_r", vmin=0, vmax=1, alpha=0.6, aspect="auto")
    if values.min() < threshold < values.max():
        ax.contour(grid_x, grid_y, values, levels=[threshold], colors="black", linewidths=1.2)
    for label, marker, color in ((1, "o", "tab:red"), (0, "s", "tab:blue")):
        chosen = labels == label
        ax.scatter(points[chosen, 0], points[chosen, 1], marker=marker, c=color, edgecolors="black", s=40, zorder=3)
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    if title:
        ax.set_title(title, fontsize=10)
    return ax
