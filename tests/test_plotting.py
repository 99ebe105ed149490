"""dlbook.plotting draws what it is given."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlbook import plotting
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


def test_plot_images_draws_a_grid_with_titles():
    import numpy as np

    from dlbook.plotting import plot_images

    fig = plot_images(np.zeros((12, 5, 5, 1)), titles=list(range(12)), columns=5)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 15 and len(shown) == 12 and shown[11].get_title() == "11"
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        plot_images(np.zeros((5, 5)))
    plt.close("all")


def test_plot_confusion_matrix_writes_the_counts():
    import numpy as np

    from dlbook.plotting import plot_confusion_matrix

    ax = plot_confusion_matrix(np.array([[5, 1], [0, 7]]), title="cm")
    assert sorted(t.get_text() for t in ax.texts) == ["1", "5", "7"] and ax.get_title() == "cm"
    plt.close("all")


def test_plot_attention_labels_rows_and_columns():
    weights = np.array([[0.9, 0.1, 0.0], [0.2, 0.5, 0.3]])
    ax = plotting.plot_attention(weights, ["我", "们", "。"], ["we", "</s>"], title="map")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["我", "们", "。"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["we", "</s>"]
    np.testing.assert_array_equal(ax.images[0].get_array(), weights)
    with pytest.raises(ValueError, match="2 output and 2 source"):
        plotting.plot_attention(weights, ["我", "们"], ["we", "</s>"])
    plt.close("all")


def test_image_grid_passes_imshow_options_and_leaves_spare_axes_empty():
    import numpy as np

    from dlbook.plotting import image_grid

    pictures = [np.full((4, 6, 3), 0.5), np.zeros((4, 6))]
    fig = image_grid(pictures, rows=2, columns=2, figsize=(4, 4), titles=["a", "b"], title="grid",
                     fontsize=7, cmap="magma")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 4 and len(shown) == 2
    assert [ax.get_title() for ax in shown] == ["a", "b"] and shown[0].title.get_fontsize() == 7
    assert shown[1].images[0].get_cmap().name == "magma" and not any(ax.axison for ax in fig.axes)
    assert fig._suptitle.get_text() == "grid"
    plt.close("all")


def test_image_grids_wrap_into_rows_no_wider_than_the_limit():
    from dlbook.plotting import MAX_FIGURE_WIDTH, image_grid, plot_images

    pairs = np.zeros((8, 28, 56))  # chapter 06's digit pairs: twice as wide as high
    fig = plot_images(pairs, titles=[f"sum = {i}" for i in range(8)], columns=8, size=1.6)
    width, height = fig.get_size_inches()
    shown = [ax for ax in fig.axes if ax.images]
    assert width <= MAX_FIGURE_WIDTH and len(shown) == 8 and len(fig.axes) == 8  # 4 × 2, filled evenly
    assert height == pytest.approx(2 * (1.6 * 28 / 56 + 0.25))  # each pair keeps its shape and size
    strip = image_grid([np.zeros((10, 10))] * 7, rows=1, columns=7, figsize=(14, 2))
    assert strip.get_size_inches()[0] <= MAX_FIGURE_WIDTH and len(strip.axes) == 8  # 2 rows of 4
    plt.close("all")


def test_figure_alt_text_comes_from_titles():
    from dlbook.plotting import figure_alt_text, plot_images

    fig, (left, right) = plt.subplots(1, 2)
    left.set_title("training loss")
    right.set_title("validation accuracy")
    fig.suptitle("Learning curves")
    assert figure_alt_text(fig) == "Learning curves; training loss; validation accuracy"
    fig, ax = plt.subplots()
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    assert figure_alt_text(fig) == "loss against epoch"
    grid = plot_images(np.zeros((10, 5, 5)), titles=list(range(10)))
    assert figure_alt_text(grid) == "10 images titled 0, 1, 2, 3, 4, 5…"
    assert figure_alt_text(plt.figure()) == "Figure"
    plt.close("all")


def test_notebook_figures_are_drawn_at_twice_their_size_with_alt_text():
    import base64
    import io

    from PIL import Image

    from dlbook.plotting import _png_with_alt_text, show_figures_sharp

    fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
    ax.plot([0, 1])
    ax.set_title("a line")
    data, metadata = _png_with_alt_text(fig, density=2.0)
    width, height = Image.open(io.BytesIO(base64.b64decode(data))).size
    assert abs(width - 2 * metadata["width"]) <= 1 and abs(height - 2 * metadata["height"]) <= 1
    assert 250 < metadata["width"] <= 300 and metadata["alt"] == "a line"  # 3 in at 100 dpi, trimmed
    assert show_figures_sharp() is False  # not in a notebook kernel: nothing to do


def test_plot_decision_regions_shades_the_score_and_draws_its_boundary():
    points = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    ax = plotting.plot_decision_regions(lambda p: (p[:, 0] > 0.5).astype(float), points, [0, 1, 1],
                                        resolution=21, title="regions")
    shaded = ax.images[0].get_array()
    assert shaded.shape == (21, 21) and shaded[:, 0].max() == 0 and shaded[:, -1].min() == 1
    assert len(ax.collections) == 3 and ax.get_title() == "regions"   # the boundary, then the two classes
    red, blue = ax.collections[1:]
    np.testing.assert_array_equal(red.get_offsets(), [[1.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(blue.get_offsets(), [[0.0, 0.0]])
    plt.close("all")


def test_plot_decision_regions_draws_no_boundary_where_the_score_never_crosses_it(recwarn):
    ax = plotting.plot_decision_regions(lambda p: np.zeros(len(p)), [[0.0, 1.0]], [1], resolution=5)
    assert len(ax.collections) == 2 and not recwarn.list    # the two classes' markers only, and no warning
    plt.close("all")


def test_plot_decision_regions_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plotting.plot_decision_regions(lambda p: p[:, 0], np.zeros((3, 3)), [0, 1, 0])
    with pytest.raises(ValueError, match="one per point"):
        plotting.plot_decision_regions(lambda p: p, np.zeros((2, 2)), [0, 1], resolution=4)
    plt.close("all")
