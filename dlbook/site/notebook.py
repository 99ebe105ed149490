"""One executed notebook as an HTML fragment for the book's website (see :mod:`dlbook.site.build`).

nbconvert's ``basic`` template turns the cells into HTML (Pygments-highlighted code, outputs in
their richest format, images as ``data:`` URIs), with three changes so that a page needs nothing
from the internet to display:

* math (``$…$``, ``$$…$$``, ``\\begin{…}``) becomes MathML at build time (latex2mathml), which
  browsers lay out themselves, instead of TeX left for a MathJax script from a CDN;
* a saved ipywidgets view (tqdm's progress bar) becomes static HTML from the widget state that
  the notebook keeps, instead of a script that would fetch the widget manager;
* stream text is shown as a terminal would finally show it (``\\r`` and ``\\b`` redraws resolved).
"""

from __future__ import annotations

import html
import logging
import re
import warnings

import nbformat
from jinja2 import pass_context
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
FAILED_TAG = "dlbook-failed"
NOT_RUN_TAG = "dlbook-not-run"


def latex_to_mathml(tex: str, display: bool = False) -> str:
    """``tex`` (without dollar signs) as a MathML ``<math>`` element.

    TeX that latex2mathml cannot read is shown as code (with a warning) rather than failing the
    build: a reader still sees the formula's source, never a half-rendered page.
    """
    from latex2mathml.converter import convert

    tex = re.sub(r"\\mathrm\{([A-Za-z ]+)\}", r"\\text{\1}", tex.strip())  # upright, as a single <mtext>
    try:
        mathml = convert(tex, display="block" if display else "inline")
        return mathml.replace("<mi>&#x0007E;</mi>", "<mo>&#x0223C;</mo>")  # \sim: latex2mathml writes "~"
    except Exception as error:  # noqa: BLE001 - latex2mathml raises many kinds
        warnings.warn(f"math not converted to MathML ({error}): {tex.strip()[:80]}", stacklevel=2)
        return f'<code class="math-source">{html.escape(tex.strip())}</code>'


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with math converted to MathML."""

    def block_math(self, body: str) -> str:
        return f'<span class="math-display">{latex_to_mathml(body, display=True)}</span>'

    def multiline_math(self, text: str) -> str:
        return self.block_math(text.strip().strip("$"))

    def latex_environment(self, name: str, body: str) -> str:
        return self.block_math(f"\\begin{{{name}}}{body}\\end{{{name}}}")

    def inline_math(self, body: str) -> str:
        return latex_to_mathml(body)


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


class StaticWidgets(Preprocessor):
    """Replace each widget view by static HTML from the notebook's saved widget state (nbclient
    saves it; nbval does not, and its widgets are left out: its plain-text fallback is the widget
    as first drawn, a progress bar at 0 %)."""

    def preprocess(self, nb, resources):
        self.state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                view = data.pop(WIDGET_VIEW)
                shown = widget_html(view.get("model_id", ""), self.state)
                data.pop("text/plain", None)  # the widget as first drawn (a progress bar at 0 %)
                if shown:
                    data["text/html"] = f'<div class="widget-static">{shown}</div>'
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if o.get("data", True)]
        return cell, resources


class LatexOutputsAsMathML(Preprocessor):
    """Outputs in ``text/latex`` only (``IPython.display.Math``) shown as MathML."""

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/latex" in data and "text/html" not in data:
                tex = data.pop("text/latex").strip()
                display = tex.startswith("$$") or not tex.startswith("$")
                data["text/html"] = latex_to_mathml(tex.strip("$"), display=display)
        return cell, resources


class OtherImagesAsHTML(Preprocessor):
    """Images that nbconvert's template leaves out (GIF animations, WebP) shown as ``<img>``."""

    SHOWN = ("image/png", "image/jpeg", "image/svg+xml")

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            other = [m for m in data if m.startswith("image/") and m not in self.SHOWN]
            if other and "text/html" not in data and not any(m in data for m in self.SHOWN):
                data["text/html"] = f'<img src="data:{other[0]};base64,{"".join(data[other[0]].split())}">'
        return cell, resources


class BookExporter(HTMLExporter):
    """nbconvert's HTML exporter: ``basic`` template (cells only), no prompts, MathML math."""

    def __init__(self, **kwargs):
        super().__init__(template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True,
                         anchor_link_text="¶", **kwargs)
        self.log.setLevel(logging.ERROR)  # not "Alternative text is missing" for every figure
        for preprocessor in (StaticWidgets, LatexOutputsAsMathML, OtherImagesAsHTML, StreamsAsShown):
            self.register_preprocessor(preprocessor(), enabled=True)

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


def notebook_body(notebook) -> str:
    """The cells of ``notebook`` (an ``nbformat`` node, changed in place) as an HTML fragment."""
    notebook.metadata.setdefault("language_info", {"name": "python", "pygments_lexer": "ipython3"})
    body, _ = BookExporter().from_notebook_node(notebook)
    return body
