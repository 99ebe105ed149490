"""Photos in and out, as real files come: any mode, any orientation, any size.

:func:`load_image` turns a file into a float32 RGB array in [0, 1] whatever it holds: grayscale,
grayscale with alpha, palette (with or without transparency), RGBA, 16-bit grayscale, CMYK, or a
JPEG whose EXIF tag says "rotate me". Transparent pixels are composited on white, 16-bit values
are scaled by 65 535 (not clipped at 255), and the image is resized keeping its aspect ratio.
:func:`save_image` writes atomically, so a failed or interrupted write leaves nothing half-written.
Both raise ``FileNotFoundError`` or ``ValueError`` with a message that says what to do.
:func:`show` draws RGB images of different sizes side by side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dlbook.paths import atomic_path, can_write_in

# The longest side / shortest side beyond which an image is refused (a 1-pixel-high strip would
# be upscaled to a huge picture to satisfy the minimum size).
MAX_ASPECT = 100


def _as_rgb_array(image: Image.Image) -> np.ndarray:
    """Pixels as float32 RGB in [0, 1]; alpha composited on white, 16-bit scaled by 65 535."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grayscale (Pillow opens 16-bit PNGs as "I;16" or "I"): scale by the 16-bit range.
        grey = np.asarray(image, dtype=np.float64) / 65535.0
        return np.repeat(np.clip(grey, 0, 1)[..., None], 3, axis=-1).astype(np.float32)
    if mode == "F":  # floating-point grayscale: assume it is already in [0, 1]
        grey = np.clip(np.asarray(image, dtype=np.float32), 0, 1)
        return np.repeat(grey[..., None], 3, axis=-1)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def output_size(width: int, height: int, size: int | None, min_side: int) -> tuple[int, int]:
    """``(width, height)`` scaled so the longer side is ``size`` (unchanged if None), then scaled
    up, if needed, so the shorter side is at least ``min_side``; the aspect ratio is kept."""
    scale = 1.0 if size is None else size / max(width, height)
    scale = max(scale, min_side / min(width, height))
    return max(min_side, round(width * scale)), max(min_side, round(height * scale))


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an (H, W, 3) float image with Lanczos filtering, channel by channel in float."""
    if image.shape[:2] == (height, width):
        return image
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32))
                           .resize((width, height), Image.Resampling.LANCZOS))
                for c in range(image.shape[-1])]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)


def load_image(path, size: int | None = None, min_side: int = 32) -> np.ndarray:
    """Read an image file as float32 RGB (H, W, 3) in [0, 1].

    ``size`` is the length of the longer side after resizing (None keeps the file's size); the
    shorter side is then raised to at least ``min_side`` (a network with four 2×2 poolings needs
    16 pixels or more), so a 20×20 icon or a 2000×50 strip work too. EXIF orientation is applied.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No image at {path}: check the path.")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give an image file (PNG, JPEG, ...).")
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened) or opened
            pixels = _as_rgb_array(image)
    except Image.DecompressionBombError as error:
        raise ValueError(f"{path} is too large to read safely ({error}); downscale it first.") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{path} is not an image that Pillow can read ({error}); give a PNG, JPEG, "
                         "WebP, TIFF or BMP file.") from None
    height, width = pixels.shape[:2]
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ValueError(f"{path} is {width}×{height} pixels, an aspect ratio beyond {MAX_ASPECT}:1; "
                         "crop it to a less extreme shape first.")
    return resize(pixels, *output_size(width, height, size, min_side))


def to_uint8(image) -> np.ndarray:
    """A float image in [0, 1] (H, W, 3), or a batch of one, as uint8 pixels."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def check_output_path(path) -> Path:
    """Check, before any long computation, that an image can be written to ``path``.

    The extension must be one Pillow writes (``.png``, ``.jpg``, ...) and the folder must exist
    (or be creatable) and be writable. Returns the path; raises ``ValueError`` saying what to fix.
    """
    path = Path(path)
    extension = path.suffix.lower()
    writable = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.SAVE}
    if extension not in writable:
        raise ValueError(f"Cannot write an image to {path}: unknown extension {extension or '(none)'!r}; "
                         "use .png or .jpg.")
    if path.is_dir():
        raise ValueError(f"Cannot write an image to {path}: it is a folder; give a file name such as {path / 'out.png'}.")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not (folder.is_dir() and can_write_in(folder)):
        raise ValueError(f"Cannot write an image to {path}: {folder} is not a writable folder; "
                         "choose another output path.") from None
    return path


def save_image(image, path) -> Path:
    """Write a float image in [0, 1] to ``path`` (format from the extension), atomically."""
    path = check_output_path(path)
    pixels = to_uint8(image)
    try:
        with atomic_path(path, suffix=path.suffix) as tmp:
            Image.fromarray(pixels).save(tmp)
    except OSError as error:
        raise ValueError(f"Cannot write an image to {path}: {error.strerror or error}; "
                         "choose another output path.") from None
    return path


def show(pictures, titles=None, height: float = 2.4, title: str | None = None, columns: int | None = None):
    """RGB images of any sizes in a grid (one row unless ``columns``), each ``height`` inches high,
    with optional titles; returns the matplotlib Figure."""
    from dlbook.plotting import image_grid

    pictures = [np.clip(np.asarray(p, dtype=np.float32), 0, 1) for p in pictures]
    columns = columns or len(pictures)
    rows = -(-len(pictures) // columns)
    aspect = max(p.shape[1] / p.shape[0] for p in pictures)
    figsize = (columns * height * aspect, rows * (height + 0.3))
    return image_grid(pictures, rows, columns, figsize, titles, title, fontsize=9)
