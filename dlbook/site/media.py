"""Figures, animations and sound of the book's website as light files beside the pages.

A notebook keeps each output as base64 inside it: a figure as PNG, an animation as GIF, a
sound as WAV inside an ``<audio>`` element. Embedded as they are, chapter 07's photos and
chapter 10's music made pages of 2–3 MB. :class:`MediaStore` writes each one once into
``_media/`` of the site, named by its content (so a figure that two editions of a chapter show
is stored once), in a lighter format a browser shows as well:

* a figure (few colours, sharp lines) → lossless WebP, the same pixels in about 60 % fewer bytes
  (lossy when that is much lighter: a figure made of pictures);
* a photograph (many colours) → WebP at quality 80, at most 1.5 pixels per CSS pixel;
* an animation → animated WebP, when smaller;
* a sound → MP3 (LAME, 48 kbit/s per channel).

Each file is kept in its original format where that is smaller. An image gets its displayed
size (``width``/``height``) so the page does not jump while it loads: a high-density figure
(``retina``, drawn at twice its size) declares its size in CSS pixels in its output metadata.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import wave
from pathlib import Path

import numpy as np

FOLDER = "_media"
PHOTO_DENSITY = 1.5  # pixels per CSS pixel kept of a photograph (figures keep their 2)
PHOTO_COLOURS = 4096  # a picture with more distinct colours (in a 256-px thumbnail) is a photograph
AUDIO = re.compile(r'(<source\b[^>]*?\bsrc=|<audio\b[^>]*?\bsrc=)"data:audio/(?:wav|x-wav|wave|vnd\.wave);base64,'
                   r'([A-Za-z0-9+/=\s]+)"([^>]*>)')


def _webp(image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", **options)
    return buffer.getvalue()


def opaque(image) -> bool:
    """Whether ``image`` (PIL) has no transparent pixel (matplotlib writes opaque RGBA)."""
    if "A" in image.getbands():
        return image.getchannel("A").getextrema()[0] == 255
    return "transparency" not in image.info


def is_photograph(image) -> bool:
    """Whether ``image`` (PIL) has the many colours of a photograph rather than those of a plot."""
    thumbnail = image.convert("RGB")
    thumbnail.thumbnail((256, 256))
    return len(thumbnail.getcolors(maxcolors=256 * 256) or range(256 * 256)) > PHOTO_COLOURS


def compact_image(data: bytes, display_width: int | None = None) -> tuple[bytes, str, tuple[int, int]]:
    """``data`` (PNG, JPEG, GIF, WebP) in the lightest fitting format: (bytes, extension, pixel size).

    A figure is stored losslessly unless lossy WebP (quality 85) is much lighter, as it is for a
    figure made of pictures (a grid of generated digits), where its artefacts are not seen. A
    photograph is stored lossy (quality 80), with at most :data:`PHOTO_DENSITY` pixels per CSS
    pixel of its ``display_width``: a photo of a few hundred pixels gains nothing at twice its size.
    """
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    original = (data, image.format.lower().replace("jpeg", "jpg"), image.size)
    if getattr(image, "n_frames", 1) > 1:
        candidate = _webp(image, save_all=True, lossless=False, quality=80, method=4)
    elif is_photograph(image):
        still = image.convert("RGB" if opaque(image) else "RGBA")
        if display_width and still.width > PHOTO_DENSITY * display_width:
            width = round(PHOTO_DENSITY * display_width)
            still = still.resize((width, round(still.height * width / still.width)), Image.LANCZOS)
        candidate = _webp(still, quality=80, method=4)
        return (candidate, "webp", still.size) if len(candidate) < len(data) else original
    else:
        still = image.convert("RGB" if opaque(image) else "RGBA")
        lossy, lossless = _webp(still, quality=85, method=4), _webp(still, lossless=True, quality=100, method=4)
        candidate = lossy if len(lossy) < 0.8 * len(lossless) else lossless
    return (candidate, "webp", image.size) if len(candidate) < len(data) else original


def wav_to_mp3(data: bytes, kbps_per_channel: int = 48) -> bytes:
    """A WAV file (8-, 16- or 32-bit PCM) as MP3."""
    import lameenc

    with wave.open(io.BytesIO(data)) as sound:
        channels, width, rate = sound.getnchannels(), sound.getsampwidth(), sound.getframerate()
        frames = sound.readframes(sound.getnframes())
    if width == 1:
        samples = (np.frombuffer(frames, np.uint8).astype(np.int16) - 128) << 8
    elif width == 2:
        samples = np.frombuffer(frames, "<i2")
    elif width == 4:
        samples = (np.frombuffer(frames, "<i4") >> 16).astype(np.int16)
    else:
        raise ValueError(f"WAV with {8 * width}-bit samples; expected 8, 16 or 32")
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps_per_channel * channels)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(channels)
    encoder.set_quality(5)
    return bytes(encoder.encode(samples.astype("<i2").tobytes()) + encoder.flush())


class MediaStore:
    """Writes media files into ``site/_media``, once per content; pages link to them from ``prefix``
    (``""`` for a page at the site's root, ``"../"`` one folder below)."""

    def __init__(self, site: Path):
        self.folder = Path(site) / FOLDER
        self.folder.mkdir(parents=True, exist_ok=True)
        self.written: dict[str, str] = {}  # content hash of the original -> file name
        self.sizes: dict[str, tuple[int, int]] = {}

    def _store(self, data: bytes, convert) -> str:
        key = hashlib.sha256(data).hexdigest()[:20]
        if key in self.written:
            return key
        earlier = next(self.folder.glob(f"{key}.*"), None)  # written by an earlier build: reused
        if earlier is not None and earlier.suffix != ".mp3":
            from PIL import Image

            with Image.open(earlier) as image:
                self.written[key], self.sizes[key] = earlier.name, image.size
        elif earlier is not None:
            self.written[key], self.sizes[key] = earlier.name, (0, 0)
        else:
            compact, extension, size = convert(data)
            name = f"{key}.{extension}"
            (self.folder / name).write_bytes(compact)
            self.written[key], self.sizes[key] = name, size
        return key

    def remove_unused(self) -> None:
        """Delete the files of earlier builds that no page of this one links to."""
        used = set(self.written.values())
        for path in self.folder.iterdir():
            if path.name not in used:
                path.unlink()

    def image(self, data: bytes, prefix: str = "", display_width: int | None = None) -> tuple[str, tuple[int, int]]:
        """The link to ``data`` (an image shown ``display_width`` CSS pixels wide, if known) stored
        compactly, and its size in pixels."""
        key = self._store(data, lambda image: compact_image(image, display_width))
        return f"{prefix}{FOLDER}/{self.written[key]}", self.sizes[key]

    def sound(self, data: bytes, prefix: str = "") -> str:
        """The link to ``data`` (a WAV file) stored as MP3."""
        key = self._store(data, lambda wav: (wav_to_mp3(wav), "mp3", (0, 0)))
        return f"{prefix}{FOLDER}/{self.written[key]}"

    def html_with_sound_files(self, html: str, prefix: str = "") -> str:
        """``html`` with each WAV embedded in an ``<audio>``/``<source>`` replaced by a link to its MP3."""
        def replace(match: re.Match) -> str:
            try:
                data = base64.b64decode("".join(match.group(2).split()), validate=True)
                link = self.sound(data, prefix)
            except (binascii.Error, wave.Error, EOFError, ValueError):
                return match.group(0)  # not a WAV we can read: left as it is
            rest = re.sub(r'\btype="audio/[^"]*"', 'type="audio/mpeg"', match.group(3))
            return f'{match.group(1)}"{link}"{rest}'

        html = AUDIO.sub(replace, html)
        return re.sub(r"<audio\b(?![^>]*\bpreload=)", '<audio preload="none"', html)


def light_notebook(notebook) -> None:
    """The executed notebook a reader downloads, made light (in place): its code, prose and printed
    outputs stay; each figure, animation or sound becomes one line saying what it showed (its alt
    text) and where to see it, the chapter's web page. Embedded media are nine tenths of an
    executed notebook's weight (5 MB for the English chapters, even recompressed), and running
    the notebook draws them again."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data, metadata = output.get("data", {}), output.get("metadata", {})
            mime = next((m for m in data if m.startswith("image/")), None)
            html = data.get("text/html") if isinstance(data.get("text/html"), str) else ""
            if mime:
                shown = metadata.get(mime, {}) if isinstance(metadata.get(mime), dict) else {}
                alt = shown.get("alt") or "a figure"
                output.data = {"text/plain": f"[{alt}: shown on the chapter's web page; run the cell to draw it]"}
            elif "<audio" in html or "data:image/" in html or "data:audio/" in html:
                output.data = {"text/plain": "[a sound or picture: on the chapter's web page; run the cell to make it]"}
            else:
                continue
            output.metadata = {}
