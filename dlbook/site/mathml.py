"""TeX to MathML for the book's website, right or not at all.

latex2mathml converts most of the TeX a chapter writes, but not all of it: it ignores the
alignment environments (``aligned``, ``align``: the ``&`` and ``&&`` come out as text and the
rows as one line), writes ``\\arg`` as the literal text ``\\arg``, and breaks
``\\operatorname{arg\\,max}`` into an empty operator and loose letters. :func:`latex_to_mathml`
rewrites those forms into ones it converts well (an ``array`` with right/left columns, one
operator token per named operator) and then checks the MathML it got: a formula whose MathML
still holds a TeX command, an alignment ``&`` or an empty operator raises :class:`MathError`,
which the site build turns into a failure naming the chapter and the formula. A reader never
sees half-converted math.
"""

from __future__ import annotations

import html
import re

ALIGNMENTS = ("aligned", "align", "align*", "alignat", "alignat*", "split", "flalign", "flalign*")
GATHERINGS = ("gather", "gather*", "gathered", "multline", "multline*")
OPERATOR_NAME = re.compile(r"\\operatorname(\*?)\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
NAMED_ARG = re.compile(r"\\arg\s*\\(max|min)(?![A-Za-z])|\\(argmax|argmin)(?![A-Za-z])|\\arg(?![A-Za-z])")
MARKER = "dlbookop"
PRIMED = re.compile(r"<msup>(<mi>[^<]*</mi>)<mi>(&#x0203[234];)</mi></msup>")


class MathError(ValueError):
    """A formula that does not convert to MathML completely; says which and why."""

    def __init__(self, tex: str, reason: str):
        self.tex, self.reason = tex, reason
        super().__init__(f"{reason}: {tex.strip()[:160]}")


def _environment_body(tex: str, name: str) -> tuple[int, int, str] | None:
    """Where ``\\begin{name}…\\end{name}`` sits in ``tex`` (start, end) and its body, or None."""
    begin = tex.find(f"\\begin{{{name}}}")
    if begin < 0:
        return None
    end = tex.find(f"\\end{{{name}}}", begin)
    if end < 0:
        raise MathError(tex, f"\\begin{{{name}}} without \\end{{{name}}}")
    body = tex[begin + len(f"\\begin{{{name}}}"):end]
    if name.startswith("alignat"):
        body = re.sub(r"^\s*\{\d+\}", "", body)  # alignat's column count
    return begin, end + len(f"\\end{{{name}}}"), body


def _split_top_level(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside braces (``\\&`` is a character, not a separator)."""
    parts, depth, current, i = [], 0, [], 0
    while i < len(text):
        if text.startswith("\\\\", i) and separator != "\\\\":
            current.append("\\\\")
            i += 2
            continue
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "&{}":
            current.append(text[i:i + 2])
            i += 2
            continue
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
        if depth == 0 and text.startswith(separator, i):
            parts.append("".join(current))
            current = []
            i += len(separator)
            continue
        current.append(text[i])
        i += 1
    parts.append("".join(current))
    return parts


def _as_array(body: str, gather: bool = False) -> str:
    """An alignment environment's body as an ``array`` with right/left column pairs (``gather``:
    one centred column). A left column starts with ``{}``, so that ``&= b`` keeps ``=`` a relation."""
    body = re.sub(r"\\(label\{[^}]*\}|nonumber|notag)", "", body)
    rows = [row for row in _split_top_level(body, "\\\\") if row.strip()]
    if gather:
        return "\\begin{array}{c}" + " \\\\ ".join(rows) + "\\end{array}"
    cells = [_split_top_level(row, "&") for row in rows]
    columns = max(len(row) for row in cells)
    spec = "".join("rl"[i % 2] for i in range(columns))
    lines = [" & ".join(("{}" + cell.strip()) if i % 2 and cell.strip() else cell.strip()
                        for i, cell in enumerate(row)) for row in cells]
    return "\\begin{array}{" + spec + "}" + " \\\\ ".join(lines) + "\\end{array}"


def rewrite(tex: str) -> tuple[str, dict[str, tuple[str, bool]]]:
    """``tex`` in the forms latex2mathml converts well, and the operator names to put back after
    the conversion (marker → name, and whether its limits go under it, ``\\operatorname*``)."""
    tex = tex.strip()
    for name in ("equation", "equation*"):
        while (found := _environment_body(tex, name)) is not None:
            start, end, body = found
            tex = tex[:start] + body + tex[end:]
    for names, gather in ((ALIGNMENTS, False), (GATHERINGS, True)):
        for name in names:
            while (found := _environment_body(tex, name)) is not None:
                start, end, body = found
                tex = tex[:start] + _as_array(body, gather) + tex[end:]

    def named_arg(match: re.Match) -> str:
        which = match.group(1) or (match.group(2) or "")[3:]
        return f"\\operatorname*{{arg\\,{which}}}" if which else "\\operatorname{arg}"

    tex = NAMED_ARG.sub(named_arg, tex)
    names: dict[str, tuple[str, bool]] = {}

    def operator(match: re.Match) -> str:
        text = re.sub(r"\\[,;: ]|~", " ", match.group(2))
        text = re.sub(r"\\(mathrm|text|textrm)\s*\{([^{}]*)\}", r"\2", text)
        text = " ".join(text.split())
        if not text or "\\" in text or "{" in text:
            raise MathError(tex, f"operator name {match.group(2)!r} is not plain text")
        marker = MARKER + "".join(chr(ord("a") + int(d)) for d in str(len(names)))
        names[marker] = (text, bool(match.group(1)))
        return f"\\operatorname{{{marker}}}" + ("\\limits" if match.group(1) else "")

    tex = OPERATOR_NAME.sub(operator, tex)
    tex = re.sub(r"\\mathrm\{([A-Za-z ]+)\}", r"\\text{\1}", tex)  # upright words, as a single <mtext>
    return tex, names


def check_mathml(mathml: str, tex: str) -> None:
    """Raise :class:`MathError` if ``mathml`` still holds TeX: a command, an alignment ``&``, an
    empty operator or a marker of :func:`rewrite`."""
    texts = [html.unescape(t) for t in re.findall(r">([^<>]+)<", mathml)]
    commands = sorted({c for t in texts for c in re.findall(r"\\[A-Za-z]+", t)})
    if commands:
        raise MathError(tex, f"TeX command(s) {', '.join(commands)} left unconverted")
    if re.search(r"<m[io][^>]*>&</m[io]>", mathml) or any(t.strip() == "&" for t in texts):
        raise MathError(tex, "an alignment '&' outside an alignment environment")
    if re.search(r"<mo\s*/>|<mo[^>]*></mo>", mathml):
        raise MathError(tex, "an empty operator (an unsupported \\operatorname or command)")
    if MARKER in mathml:
        raise MathError(tex, "an operator name that latex2mathml split up")


def latex_to_mathml(tex: str, display: bool = False) -> str:
    """``tex`` (without dollar signs) as a MathML ``<math>`` element; :class:`MathError` if it
    does not convert completely."""
    from latex2mathml.converter import convert

    rewritten, names = rewrite(tex)
    try:
        mathml = convert(rewritten, display="block" if display else "inline")
    except Exception as error:  # noqa: BLE001 - latex2mathml raises many kinds, some without a message
        raise MathError(tex, f"latex2mathml cannot read it ({type(error).__name__} {error})".strip()) from None
    for marker, (name, limits) in names.items():
        # Limits under a starred operator in display math, beside it inline (as TeX sets them).
        mathml = mathml.replace(f"<mo>{marker}</mo>", ('<mo movablelimits="true">' if limits else "<mo>")
                                + html.escape(name.replace(" ", chr(0x2009))) + "</mo>")
    mathml = mathml.replace("<mi>&#x0007E;</mi>", "<mo>&#x0223C;</mo>")  # \sim: latex2mathml writes "~"
    # s' is s followed by a prime, not a prime raised once more as a superscript (its glyph sits high already)
    mathml = PRIMED.sub(r'<mrow>\1<mo form="postfix" lspace="0em" rspace="0em">\2</mo></mrow>', mathml)
    check_mathml(mathml, tex)
    return mathml
