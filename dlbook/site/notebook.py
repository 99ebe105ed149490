"""One executed notebook as an HTML fragment for the book's website (see :mod:`dlbook.site.build`).

nbconvert's ``basic`` template turns the cells into HTML (Pygments-highlighted code, outputs in
their richest format), with these changes so that a page is right, light and needs nothing from
the internet:

* math (``$…$``, ``$$…$$``, ``\\begin{…}``) becomes MathML at build time
  (:mod:`dlbook.site.mathml`), which browsers lay out themselves; a formula that does not convert
  completely is collected as an error, and :func:`notebook_body` raises :class:`MathErrors`;
* figures, animations and sounds become files of their own in a light format
  (:mod:`dlbook.site.media`), each figure with its alt text (the output's ``alt`` metadata, which
  :mod:`dlbook.plotting` sets from the figure's titles, else the section it belongs to);
* a saved ipywidgets view (tqdm's progress bar) becomes static HTML from the widget state that
  the notebook keeps, instead of a script that would fetch the widget manager;
* stream text is shown as a terminal would finally show it (``\\r`` and ``\\b`` redraws resolved).
"""

from __future__ import annotations

import base64
import contextvars
import html
import logging
import re

import nbformat
from jinja2 import pass_context
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor

from dlbook.site.mathml import MathError, latex_to_mathml

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
FAILED_TAG = "dlbook-failed"
NOT_RUN_TAG = "dlbook-not-run"
# The alt text of a figure without its own: in its section (the section's title), or anywhere.
FIGURE_ALT = ("Figure in the section \u201c{}\u201d", "Figure")
IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
HEADING = re.compile(r"^#{1,3}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# The formulas of the notebook being rendered that did not convert (collected, then raised together).
_math_errors: contextvars.ContextVar[list | None] = contextvars.ContextVar("math_errors", default=None)


class MathErrors(ValueError):
    """Formulas of a notebook that do not convert to MathML: ``errors`` is a list of :class:`MathError`."""

    def __init__(self, errors: list[MathError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def _mathml(tex: str, display: bool = False) -> str:
    """MathML for ``tex``; while a notebook is rendered, a formula that does not convert is
    collected (and shown as its source meanwhile) instead of stopping the rendering."""
    errors = _math_errors.get()
    try:
        return latex_to_mathml(tex, display=display)
    except MathError as error:
        if errors is None:
            raise
        errors.append(error)
        return f'<code class="math-source">{html.escape(tex.strip())}</code>'


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with math converted to MathML."""

    def block_math(self, body: str) -> str:
        return f'<span class="math-display">{_mathml(body, display=True)}</span>'

    def multiline_math(self, text: str) -> str:
        return self.block_math(text.strip().strip("$"))

    def latex_environment(self, name: str, body: str) -> str:
        return self.block_math(f"\\begin{{{name}}}{body}\\end{{{name}}}")

    def inline_math(self, body: str) -> str:
        return _mathml(body)


def markdown_to_html(source: str, attachments: dict | None = None) -> str:
    """Markdown (with math) as HTML, the way the site renders a Markdown cell."""
    renderer = MathMLRenderer(escape=False, attachments=attachments or {}, anchor_link_text="¶")
    return MarkdownWithMath(renderer=renderer).render(source)


def terminal_text(text: str) -> str:
    """Stream text as a terminal finally shows it: ``\\b`` erases a character, and of a line
    redrawn with ``\\r`` the last non-empty drawing stays (progress bars)."""
    if "\b" in text:
        erase = re.compile("[^\x08\n]\x08")
        while True:
            text, count = erase.subn("", text)
            if not count:
                break
        text = text.replace("\b", "")
    if "\r" not in text:
        return text
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        drawings = [part for part in line.split("\r") if part]
        lines.append(drawings[-1] if drawings else "")
    return "\n".join(lines)


class StreamsAsShown(Preprocessor):
    """Merge consecutive stream outputs of a cell and resolve their redraws (:func:`terminal_text`)."""

    def preprocess_cell(self, cell, resources, index):
        merged = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and merged and merged[-1].output_type == "stream" \
                    and merged[-1].name == output.name:
                merged[-1].text += output.text
            else:
                merged.append(output)
        for output in merged:
            if output.output_type == "stream":
                output.text = terminal_text(output.text)
        if "outputs" in cell:
            cell.outputs = [o for o in merged if o.output_type != "stream" or o.text.strip()]
        return cell, resources


def widget_html(model_id: str, state: dict) -> str | None:
    """Static HTML for a saved ipywidgets model (boxes, HTML, labels, progress bars), or None."""
    model = state.get(model_id)
    if model is None:
        return None
    name, values = model.get("model_name", ""), model.get("state", {})
    if name in ("HBoxModel", "VBoxModel", "BoxModel"):
        children = [widget_html(str(c).removeprefix("IPY_MODEL_"), state) for c in values.get("children", [])]
        direction = "column" if name == "VBoxModel" else "row"
        return (f'<div class="widget-box" style="flex-direction:{direction}">'
                + "".join(c for c in children if c) + "</div>")
    if name in ("HTMLModel", "HTMLMathModel"):
        return f'<span class="widget-html">{values.get("value", "")}</span>'
    if name in ("LabelModel", "TextModel"):
        return f'<span class="widget-html">{html.escape(str(values.get("value", "")))}</span>'
    if name in ("FloatProgressModel", "IntProgressModel"):
        low, high, value = values.get("min", 0), values.get("max", 100), values.get("value", 0)
        return f'<progress value="{value - low}" max="{high - low}"></progress>'
    return None


def static_widgets(notebook) -> None:
    """Replace each widget view of ``notebook`` (in place) by static HTML from its saved widget
    state, then drop that state (a page or a downloaded notebook needs neither the state nor a
    widget manager). nbclient saves the state; nbval does not, and its widgets are left out: their
    plain-text fallback is the widget as first drawn, a progress bar at 0 %."""
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                view = data.pop(WIDGET_VIEW)
                shown = widget_html(view.get("model_id", ""), state)
                data.pop("text/plain", None)  # the widget as first drawn (a progress bar at 0 %)
                if shown:
                    data["text/html"] = f'<div class="widget-static">{shown}</div>'
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if o.get("data", True)]
    notebook.metadata.pop("widgets", None)


class StaticWidgets(Preprocessor):
    """:func:`static_widgets` as an nbconvert preprocessor."""

    def preprocess(self, nb, resources):
        static_widgets(nb)
        return nb, resources


class LatexOutputsAsMathML(Preprocessor):
    """Outputs in ``text/latex`` only (``IPython.display.Math``) shown as MathML."""

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/latex" in data and "text/html" not in data:
                tex = data.pop("text/latex").strip()
                display = tex.startswith("$$") or not tex.startswith("$")
                data["text/html"] = _mathml(tex.strip("$"), display=display)
        return cell, resources


class MediaFiles(Preprocessor):
    """Images and sounds stored as files by a :class:`~dlbook.site.media.MediaStore` (``store``)
    and linked from ``prefix``; each image with its alt text and size."""

    def __init__(self, store=None, prefix: str = "", alt: tuple[str, str] = FIGURE_ALT, **kwargs):
        super().__init__(**kwargs)
        self.store, self.prefix, self.alt = store, prefix, alt

    def preprocess(self, nb, resources):
        self.section = ""
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            headings = HEADING.findall(cell.source)
            self.section = re.sub(r"[*_`$\\]", "", headings[-1]) if headings else self.section
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            mime = next((m for m in IMAGES if m in data), None)
            if mime:
                self._image(output, mime)
            if self.store is not None and isinstance(data.get("text/html"), str):
                data["text/html"] = self.store.html_with_sound_files(data["text/html"], self.prefix)
        return cell, resources

    def _image(self, output, mime: str) -> None:
        data, metadata = output.data, output.setdefault("metadata", {})
        own = metadata.setdefault(mime, {}) if isinstance(metadata.get(mime, {}), dict) else {}
        alt = own.get("alt") or (self.alt[0].format(self.section) if self.section else self.alt[1])
        width, height = own.get("width"), own.get("height")
        if self.store is None:
            link, size = f"data:{mime};base64,{''.join(data[mime].split())}", None
        else:
            link, size = self.store.image(base64.b64decode("".join(data[mime].split())), self.prefix, width)
        if size and not width:  # a high-density figure declares its size in CSS pixels; others are 1:1
            width, height = size
        dimensions = f' width="{width}" height="{height}"' if width and height else ""
        for other in [m for m in data if m.startswith("image/") or m == "text/plain"]:
            data.pop(other)
        data["text/html"] = (f'<img class="figure" src="{html.escape(link)}" alt="{html.escape(alt)}"{dimensions}'
                             ' loading="lazy" decoding="async">')


class BookExporter(HTMLExporter):
    """nbconvert's HTML exporter: ``basic`` template (cells only), no prompts, MathML math, media as files."""

    def __init__(self, store=None, prefix: str = "", alt: tuple[str, str] = FIGURE_ALT, **kwargs):
        super().__init__(template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True,
                         anchor_link_text="¶", **kwargs)
        self.log.setLevel(logging.ERROR)
        for preprocessor in (StaticWidgets(), LatexOutputsAsMathML(), MediaFiles(store, prefix, alt), StreamsAsShown()):
            self.register_preprocessor(preprocessor, enabled=True)

    @pass_context
    def markdown2html(self, context, source):
        return markdown_to_html(source, context.get("cell", {}).get("attachments", {}))


def failure(notebook) -> dict | None:
    """Where ``notebook`` stopped, if it did not run to its end: ``{"cell": index, "error": text}``.

    A cell with an error output failed; without one, a notebook whose later code cells never ran
    stopped at its last executed cell (its kernel died), or at its first (it never started).
    """
    code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.strip()]
    for index, cell in code:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                first_line = next(iter(output.evalue.strip().splitlines()), "")
                return {"cell": index, "error": f"{output.ename}: {first_line[:300]}".strip(": ")}
    executed = [i for i, c in code if c.get("execution_count") is not None]
    if not code or len(executed) == len(code):
        return None
    if not executed:
        return {"cell": code[0][0], "error": "the chapter was not executed"}
    return {"cell": executed[-1], "error": "execution stopped here (the kernel died or was stopped)"}


def mark_failure(notebook, where: dict) -> None:
    """Tag the failing cell and the code cells after it, and put a marker (``id="failure"``)
    before the failing cell, so the page shows where the chapter stopped."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and index == where["cell"]:
            cell.metadata.setdefault("tags", []).append(FAILED_TAG)
        elif cell.cell_type == "code" and index > where["cell"] and cell.get("execution_count") is None:
            cell.metadata.setdefault("tags", []).append(NOT_RUN_TAG)
    marker = nbformat.v4.new_markdown_cell(
        f'<div id="failure" class="failure-marker">The chapter stopped at the next cell: '
        f'{html.escape(where["error"])}</div>')
    notebook.cells.insert(where["cell"], marker)


def notebook_body(notebook, store=None, prefix: str = "", alt: tuple[str, str] = FIGURE_ALT) -> str:
    """The cells of ``notebook`` (an ``nbformat`` node, changed in place) as an HTML fragment, its
    media written by ``store`` (a :class:`~dlbook.site.media.MediaStore`; without one they stay
    embedded) and linked from ``prefix``; a figure without alt text of its own gets ``alt`` (its
    section's title in the first, else the second). Raises :class:`MathErrors` if a formula does not convert."""
    notebook.metadata.setdefault("language_info", {"name": "python", "pygments_lexer": "ipython3"})
    errors: list[MathError] = []
    token = _math_errors.set(errors)
    try:
        body, _ = BookExporter(store, prefix, alt).from_notebook_node(notebook)
    finally:
        _math_errors.reset(token)
    if errors:
        raise MathErrors(errors)
    return body
