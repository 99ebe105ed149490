"""dlbook.plotting draws what it is given."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from dlbook.plotting import plot_history, plot_predictions


def test_plot_history_draws_training_and_validation_curves():
    history = {"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0]}
    ax = plot_history(history, title="t", log_scale=True)
    assert [line.get_label() for line in ax.get_lines()] == ["training loss", "validation loss"]
    assert list(ax.get_lines()[1].get_ydata()) == [3.5, 2.5, 2.0] and ax.get_yscale() == "log"
    plt.close("all")


def test_plot_history_names_missing_metrics():
    with pytest.raises(KeyError, match="accuracy"):
        plot_history({"loss": [1.0]}, metrics=("accuracy",))


def test_plot_predictions_draws_one_line_per_model():
    ax = plot_predictions([0, 1, 2], [1, 2, 3], {"a": [1, 2, 2], "b": [0, 2, 3]}, ylabel="y")
    assert [line.get_label() for line in ax.get_lines()] == ["actual", "a", "b"]
    assert ax.get_ylabel() == "y"
    plt.close("all")
