"""Plots that several chapters draw: learning curves, predictions against the truth."""

from __future__ import annotations

import matplotlib.pyplot as plt


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
