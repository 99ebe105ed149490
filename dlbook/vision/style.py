"""Chapter 07: neural style transfer (Gatys, Ecker and Bethge, 2016).

An image is optimised, pixel by pixel, so that a fixed VGG16 (:mod:`dlbook.vision.vgg`) sees in it the
*content* of a photo (its feature maps at one layer) and the *style* of a painting (the Gram
matrices of its feature maps at several layers). This module holds the optimisers (L-BFGS-B from
scipy, Adam), :func:`transfer` and the metrics (:func:`evaluate`); the app ``dlbook.apps.stylize``
uses them.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from dlbook.data import fetch
from dlbook.vision import images
from dlbook.vision.vgg import (
    CONTENT_LAYERS,
    HELD_OUT_LAYER,
    STYLE_LAYERS,
    Objective,
    features,
    full_float32,
)

PAINTINGS = ("starry_night", "the_scream", "shipwreck", "the_great_wave_off_kanagawa")
PHOTOS = ("chelsea", "astronaut", "coffee")


# --- Optimisers ------------------------------------------------------------------------------

class StoppedEarly(UserWarning):
    """L-BFGS stopped before the number of iterations asked for (see :attr:`Result.message`)."""


@dataclasses.dataclass
class Result:
    """An optimised image (H, W, 3) in [0, 1], its loss after each iteration with the time, the
    iterations asked for (``steps``) and the optimiser's stop message."""

    image: np.ndarray
    losses: list[float]
    seconds: list[float]
    evaluations: int
    message: str = ""
    steps: int | None = None

    @property
    def iterations(self) -> int:
        """The iterations run: ``len(losses) - 1``."""
        return len(self.losses) - 1

    @property
    def stopped_early(self) -> bool:
        """Whether the optimiser stopped before ``steps`` iterations (its reason: :attr:`message`)."""
        return self.steps is not None and self.iterations < self.steps


def _progress(steps, label, progress):
    return tqdm(total=steps, desc=label, disable=not progress, leave=False, mininterval=1.0)


def lbfgs(objective: Objective, start: np.ndarray, steps: int, progress: bool = True, label: str = "L-BFGS") -> Result:
    """Minimise the objective with L-BFGS-B (scipy), pixels bounded to [0, 1], for ``steps`` iterations.

    ``losses[k]`` is the loss after ``k`` iterations (``losses[0]``: the start), ``seconds[k]``
    the time it took to get there from the start's evaluation (the first call, which compiles the
    loss for the image's shape, is not counted); an iteration may evaluate the loss more than once.
    If L-BFGS stops before ``steps`` iterations (its line search found no lower loss, or it used
    up its ``3 * steps + 20`` evaluations), the result says so (``stopped_early``, ``message``)
    and a :class:`StoppedEarly` warning names the reason: the image is what it reached.
    """
    from scipy.optimize import Bounds, minimize

    shape, f = (1, *start.shape), objective.value_and_grad()
    losses, seconds, calls, began = [], [], [0], [0.0]

    def fun(x):
        calls[0] += 1
        value, grad = f(x.reshape(shape).astype("float32"))
        if calls[0] == 1:
            losses.append(float(value))
            seconds.append(0.0)
            began[0] = time.perf_counter()
        return float(value), np.asarray(grad, "float64").ravel()

    with _progress(steps, label, progress) as bar:
        def callback(intermediate_result):
            losses.append(float(intermediate_result.fun))
            seconds.append(time.perf_counter() - began[0])
            bar.set_postfix_str(f"loss {losses[-1]:.4g}", refresh=False)
            bar.update()

        result = minimize(fun, start.astype("float64").ravel(), jac=True, method="L-BFGS-B", bounds=Bounds(0.0, 1.0),
                          callback=callback, options={"maxiter": steps, "maxfun": 3 * steps + 20, "maxcor": 20,
                                                      "ftol": 0.0, "gtol": 0.0})
    image = np.clip(result.x.reshape(start.shape), 0, 1).astype("float32")
    outcome = Result(image, losses, seconds, calls[0], str(result.message), steps)
    if outcome.stopped_early:
        warnings.warn(f"{label}: L-BFGS stopped after {outcome.iterations} of {steps} iterations "
                      f"({outcome.message})", StoppedEarly, stacklevel=2)
    return outcome


def adam(objective: Objective, start: np.ndarray, steps: int, learning_rate: float = 0.03, progress: bool = True,
         label: str = "Adam") -> Result:
    """Minimise the objective with Adam (β1 0.9, β2 0.999), pixels clipped to [0, 1] after each step.
    ``losses`` and ``seconds`` as for :func:`lbfgs` (one evaluation per step, and one at the end)."""
    f = objective.value_and_grad()
    x = start[None].astype("float32")
    m, v = np.zeros_like(x), np.zeros_like(x)
    losses, seconds, began = [], [], 0.0
    with _progress(steps, label, progress) as bar:
        for t in range(1, steps + 2):
            value, grad = f(x)
            losses.append(float(value))  # the loss after t - 1 steps
            if t == 1:
                began = time.perf_counter()
            seconds.append(time.perf_counter() - began)
            if t > steps:
                break
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad**2
            x = np.clip(x - learning_rate * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8), 0, 1)
            bar.set_postfix_str(f"loss {value:.4g}", refresh=False)
            bar.update()
    return Result(x[0], losses, seconds, steps + 1, steps=steps)


def noise(shape, seed: int = 0, amplitude: float = 0.1) -> np.ndarray:
    """Mid-grey plus white noise of ``amplitude``: the starting image of a reconstruction. (Full
    [0, 1] noise leaves speckle that deep layers barely see, so their gradients never remove it.)"""
    return (0.5 + np.random.default_rng(seed).uniform(-amplitude, amplitude, shape)).astype("float32")


def transfer(content, style, steps: int, *, start="content", method: str = "lbfgs", learning_rate: float = 0.03,
             progress: bool = True, label: str | None = None, **objective_options) -> Result:
    """Style transfer of ``style`` (an image array) onto ``content``: L-BFGS (or Adam, with
    ``learning_rate``) from the content image (``start="content"``), from noise (``"noise"``),
    or from a given array. ``objective_options`` go to :class:`Objective` (layers, weights).
    The objective computes in full float32 (:func:`dlbook.vision.vgg.full_float32`), also on a GPU."""
    if method not in ("lbfgs", "adam"):
        raise ValueError(f"method={method!r}: use 'lbfgs' or 'adam'.")
    if isinstance(start, str):
        if start not in ("content", "noise"):
            raise ValueError(f"start={start!r}: use 'content', 'noise' or an image array.")
        if start == "content" and content is None:
            raise ValueError("start='content' needs a content image; use start='noise' for a style reconstruction.")
        start = content if start == "content" else noise((content if content is not None else style).shape)
    start = np.asarray(start, "float32")
    with full_float32():
        objective = Objective(content, style, **objective_options)
        if method == "adam":
            return adam(objective, start, steps, learning_rate, progress=progress, label=label or "Adam")
        return lbfgs(objective, start, steps, progress=progress, label=label or "L-BFGS")


# --- Metrics, in NumPy float64 ---------------------------------------------------------------

def _gram(maps: np.ndarray) -> np.ndarray:
    flat = maps.reshape(-1, maps.shape[-1]).astype("float64")
    return flat.T @ flat / len(flat)


def _relative(x: np.ndarray, target: np.ndarray) -> float:
    return float(np.sum((x - target) ** 2) / np.sum(target**2))


def colour_distance(image: np.ndarray, reference: np.ndarray) -> float:
    """How far ``image``'s colours are from ``reference``'s: squared distance of the RGB means plus
    squared Frobenius distance of the RGB covariance matrices (pixels in [0, 1])."""
    a, b = (np.asarray(i, "float64").reshape(-1, 3) for i in (image, reference))
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.sum((np.cov(a.T) - np.cov(b.T)) ** 2))


def evaluate(output, content, style, *, content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS,
             held_out_layer=HELD_OUT_LAYER) -> dict[str, float]:
    """How much style and content a transfer achieved (smaller is better for every ratio).

    ``style_ratio``    D_s(output) / D_s(content image): the Gram distance to the style left.
    ``content_ratio``  D_c(output) / D_c(style image, resized to the photo): the content lost.
    ``held_out_ratio`` the Gram distance to the style at ``held_out_layer`` (in no loss), output
                       over content image; ``colour_ratio`` likewise for :func:`colour_distance`.
    """
    names = tuple(dict.fromkeys((*content_layers, *style_layers, held_out_layer)))
    height, width = np.shape(content)[:2]
    with full_float32():
        maps = {k: features(image, names) for k, image in (
            ("output", output), ("content", content), ("style", style),
            ("style_resized", images.resize(np.asarray(style, "float32"), width, height)))}
    style_grams = {n: _gram(maps["style"][n]) for n in names}

    def d_s(key, layers):
        return sum(_relative(_gram(maps[key][n]), style_grams[n]) for n in layers)

    def d_c(key):
        return sum(_relative(maps[key][n], maps["content"][n]) for n in content_layers)

    return {
        "style_ratio": d_s("output", style_layers) / d_s("content", style_layers),
        "content_ratio": d_c("output") / d_c("style_resized"),
        "held_out_ratio": d_s("output", [held_out_layer]) / d_s("content", [held_out_layer]),
        "colour_ratio": colour_distance(output, style) / colour_distance(content, style),
    }


# --- Paintings and photos ---------------------------------------------------------------------------------

def painting(name: str, size: int | None = None) -> np.ndarray:
    """One of the bundled paintings (:data:`PAINTINGS`), as an array whose longer side is ``size``."""
    return images.load_image(fetch("style_images_pd", f"{name}.jpg"), size=size)


def photo(name: str, size: int | None = None) -> np.ndarray:
    """One of the bundled content photos (:data:`PHOTOS`)."""
    return images.load_image(fetch("content_images_cc0", f"{name}.png"), size=size)


def style_source(style: str | Path) -> Path:
    """The file of a style given as a painting's name or as a path."""
    if str(style) in PAINTINGS:
        return fetch("style_images_pd", f"{style}.jpg")
    path = Path(style)
    if path.exists():
        return path
    if not path.suffix:
        raise ValueError(f"Unknown style {str(style)!r}: give one of {', '.join(PAINTINGS)}, or the path of an image.")
    raise FileNotFoundError(f"No style image at {path}: check the path, or name a bundled painting "
                            f"({', '.join(PAINTINGS)}).")
