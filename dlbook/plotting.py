"""Plots that several chapters draw: learning curves, predictions against the truth.

Importing this module also lets every figure show Chinese characters (:func:`use_chinese_font`).
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

    Each image is scaled to its own range, which suits digits, filters and feature maps alike.
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"Expected images of shape (N, H, W) or (N, H, W, 1), got {images.shape}.")
    rows = int(np.ceil(len(images) / columns))
    columns = min(columns, len(images))
    figsize = (columns * size, rows * size * 1.15)
    return image_grid(images, rows, columns, figsize, titles, title, fontsize=8, cmap=cmap)


def image_grid(images, rows: int, columns: int, figsize, titles=None, title: str | None = None,
               fontsize: float = 8, **imshow_options):
    """The Figure of ``images`` drawn with ``imshow`` into a ``rows`` × ``columns`` grid of bare axes,
    each with its title if ``titles`` are given (the shared part of the image grids of dlbook)."""
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
