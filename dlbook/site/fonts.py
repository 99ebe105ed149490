"""The two fonts of the book's website, cut down at build time to the characters it uses.

* **Chinese**: Noto Sans SC (SIL Open Font License 1.1, from the package pylopdf-fonts-zh-cn,
  which matplotlib uses for the figures too) is 8.3 MB with its 30 000 characters; the book uses
  a few hundred. :func:`write_fonts` keeps those (and CJK punctuation) as WOFF2.
* **Math**: STIX Two Math (SIL OFL 1.1, from the package ziamath), a font with an OpenType MATH
  table, so that every browser lays out sums, fractions, roots and stretchy brackets with the same
  metrics instead of whatever serif the reader's system has. Kept: the characters inside the
  site's ``<math>`` elements, the italic forms that MathML gives single-letter identifiers, and
  the size variants and pieces of stretchy operators (fontTools keeps those with the MATH table).

Each file is named after a hash of its characters, so a rebuild reuses it when nothing changed
and a browser never shows a stale cached font. The subsets keep the fonts' copyright and license.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import re
from pathlib import Path

# The characters drawn with the Chinese font: CJK blocks, and punctuation within Chinese text.
CJK_RANGES = ((0x2E80, 0x2FDF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x3100, 0x312F), (0x3190, 0x31FF),
              (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF))
CJK_PUNCTUATION = (0x00B7, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2026)
MATH = re.compile(r"<math\b.*?</math>", re.DOTALL)
TAG = re.compile(r"<[^>]+>")
ALWAYS_IN_MATH = "()[]{}|‖√∑∏∫=+−×·/,.:;'′″‴⁡⁢ \u00a0\u2009\u205f"


def chinese_font_source() -> Path:
    from pylopdf_fonts_zh_cn import sans_path  # Noto Sans SC Regular, SIL Open Font License 1.1

    return Path(sans_path())


def math_font_source() -> Path:
    """STIX Two Math as the package ziamath ships it (found without importing the package)."""
    spec = importlib.util.find_spec("ziamath")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("The website's math font comes with the package ziamath: pip install ziamath")
    return Path(next(iter(spec.submodule_search_locations))) / "fonts" / "STIXTwoMath-Regular.ttf"


def is_chinese_font_character(point: int) -> bool:
    return point in CJK_PUNCTUATION or any(low <= point <= high for low, high in CJK_RANGES)


def italic_forms(characters: set[str]) -> set[str]:
    """The Mathematical Italic letters that MathML draws for single Latin and Greek letters."""
    forms = set()
    for character in characters:
        point = ord(character)
        if 0x41 <= point <= 0x5A:
            forms.add(chr(0x1D434 + point - 0x41))
        elif 0x61 <= point <= 0x7A:
            forms.add("\u210e" if character == "h" else chr(0x1D44E + point - 0x61))
        elif 0x391 <= point <= 0x3A9:
            forms.add(chr(0x1D6E2 + point - 0x391))
        elif 0x3B1 <= point <= 0x3C9:
            forms.add(chr(0x1D6FC + point - 0x3B1))
    variants = {"ϵ": 0x1D716, "ϑ": 0x1D717, "ϰ": 0x1D718, "ϕ": 0x1D719, "ϱ": 0x1D71A, "ϖ": 0x1D71B,
                "∂": 0x1D715, "∇": 0x1D6FB}
    forms |= {chr(point) for character, point in variants.items() if character in characters}
    return forms


def characters_used(pages: list[str]) -> tuple[set[str], set[str]]:
    """(characters for the Chinese font, characters for the math font) of the pages' HTML (and
    of the search index, whose snippets are shown in the page's font)."""
    chinese, math = set(), set()
    for page in pages:
        chinese |= {c for c in html.unescape(TAG.sub(" ", page)) if is_chinese_font_character(ord(c))}
        for formula in MATH.findall(page):
            math |= set(html.unescape(TAG.sub("", formula)))
    math -= {c for c in math if is_chinese_font_character(ord(c)) or not c.isprintable() and c not in "\u2061\u2062"}
    math |= set(ALWAYS_IN_MATH) | italic_forms(math)
    return chinese, math


def subset_font(source: Path, characters: set[str], target: Path) -> Path:
    """``source`` cut down to ``characters`` (what its cmap has of them), saved as WOFF2 at ``target``."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]  # ligatures, CJK punctuation forms, the math script-style variants
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # names, copyright and license
    options.hinting = False
    options.desubroutinize = True
    options.notdef_outline = True
    font = TTFont(source, lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in characters])
    subsetter.subset(font)
    target.parent.mkdir(parents=True, exist_ok=True)
    font.flavor = "woff2"
    font.save(target)
    return target


def write_fonts(static: Path, pages: list[str]) -> dict:
    """Write both subsets for ``pages`` into ``static`` (reusing files of the same characters,
    removing older ones); returns {"chinese"|"math": {"file", "characters"}}."""
    chinese, math = characters_used(pages)
    fonts = {}
    for kind, source, characters in (("chinese", chinese_font_source(), chinese), ("math", math_font_source(), math)):
        digest = hashlib.sha256("".join(sorted(characters)).encode()).hexdigest()[:12]
        name = f"{kind}-{digest}.woff2"
        if not (static / name).is_file():
            subset_font(source, characters, static / name)
        for old in static.glob(f"{kind}-*.woff2"):
            if old.name != name:
                old.unlink()
        fonts[kind] = {"file": name, "characters": len(characters)}
    return fonts


def chinese_unicode_range() -> str:
    """The CSS ``unicode-range`` of the Chinese font: the CJK blocks and punctuation."""
    return ", ".join([f"U+{low:X}-{high:X}" for low, high in CJK_RANGES] + [f"U+{p:X}" for p in CJK_PUNCTUATION])
