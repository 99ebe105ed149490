"""The reader's front end: JupyterLab, as ``make lab`` starts it, opens the chapters as notebooks.

``make lab`` writes JupyterLab settings into the environment (:mod:`dlbook.site.lab`) and starts
JupyterLab at the repository root; jupytext's server extension serves ``chapters/NN_slug.md`` as
a notebook and its viewer opens it on a double click. These tests start the installed server with
the settings written into a temporary configuration folder (the environment and the user's home
stay untouched), ask its REST API for a chapter and its settings, and open the chapter's URL in
headless Chromium, as a double click does: cells, not Markdown source, and no news popup.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from dlbook.site import lab
from dlbook.site.browser import Chromium, find_browser
from tests.conftest import ROOT

TOKEN = "dlbook-test-token"
CHAPTER = "chapters/05_mnist_cnn.md"

# The chapter's tab in JupyterLab, once it has rendered: what widget shows it and its cells.
OPENED = """(async () => {
  for (let i = 0; i < 1200; i++) {
    const cells = document.querySelectorAll('.jp-NotebookPanel .jp-Cell');
    const editor = document.querySelector('.jp-FileEditor');
    if (cells.length > 5 || editor) {
      await new Promise(r => setTimeout(r, 1500));  // the news question, if asked, comes with start-up
      return {
        cells: document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length,
        code: document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell').length,
        markdown: document.querySelectorAll('.jp-NotebookPanel .jp-MarkdownCell').length,
        text_editor: document.querySelector('.jp-FileEditor') !== null,
        toasts: [...document.querySelectorAll('.Toastify__toast, .jp-toast-message')].map(t => t.innerText),
      };
    }
    await new Promise(r => setTimeout(r, 100));
  }
  return null;
})()"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(base_url: str, path: str) -> dict:
    request = urllib.request.Request(base_url + path, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory):
    """The base URL of a JupyterLab server of this environment, rooted at the checkout, with the
    settings of ``make lab`` in a configuration folder of its own; stopped afterwards."""
    tmp_path = tmp_path_factory.mktemp("jupyter")
    settings = lab.install_lab_settings(prefix=tmp_path / "env")
    port = _free_port()
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers run as root; Jupyter refuses that unless told
    log = tmp_path / "jupyter.log"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "user-config"),  # not the user's own settings
           "JUPYTER_CONFIG_PATH": str(settings.parents[1]),  # …/etc/jupyter, where labconfig/ is
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "user-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    with open(log, "w") as log_file:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {server.returncode}:\n{log.read_text()}")
            try:
                _get(base_url, "/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer on {base_url} within 120 s:\n{log.read_text()}")
                time.sleep(0.5)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_jupyter_lab_opens_a_chapter_markdown_file_as_a_notebook(jupyter_lab):
    chapter = _get(jupyter_lab, f"/api/contents/{CHAPTER}?type=notebook&content=1")
    assert chapter["type"] == "notebook" and chapter["format"] == "json"
    cells = chapter["content"]["cells"]
    assert {cell["cell_type"] for cell in cells} == {"markdown", "code"}
    assert any("dlbook.setup()" in cell["source"] for cell in cells if cell["cell_type"] == "code")
    assert chapter["content"]["metadata"]["kernelspec"]["name"] == "python3"


def test_jupyter_lab_lists_every_chapter_as_a_notebook(jupyter_lab):
    listing = _get(jupyter_lab, "/api/contents/chapters")
    listed = {entry["name"]: entry["type"] for entry in listing["content"]}
    chapters = sorted(path.name for path in (ROOT / "chapters").glob("[0-9][0-9]_*.md"))
    assert chapters and {name: listed.get(name) for name in chapters} == dict.fromkeys(chapters, "notebook")


def test_make_lab_settings_open_markdown_as_notebooks_without_news(jupyter_lab):
    viewers = _get(jupyter_lab, "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    assert viewers["schema"]["properties"]["defaultViewers"]["default"] == {
        "markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
    news = _get(jupyter_lab, "/lab/api/settings/@jupyterlab/apputils-extension:notification")
    assert news["schema"]["properties"]["fetchNews"]["default"] == "false"
    assert news["schema"]["properties"]["checkForUpdates"]["default"] is False


def test_a_chapter_opened_in_jupyter_lab_shows_its_cells(jupyter_lab, tmp_path):
    """What a double click does: the chapter's URL opens in its default viewer, the notebook."""
    if find_browser() is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Chromium for this test: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no Chromium here (apt-get install chromium, or set $DLBOOK_BROWSER)")
    with Chromium(timeout=150) as browser:
        errors = browser.open(f"{jupyter_lab}/lab/tree/{CHAPTER}?token={TOKEN}")
        opened = browser.evaluate(OPENED)
        browser.screenshot(tmp_path / "lab.png")
    assert opened is not None, f"JupyterLab showed no notebook and no editor for {CHAPTER}; console: {errors}"
    assert not opened["text_editor"], "the chapter opened as text in the editor, not as a notebook"
    assert opened["code"] > 5 and opened["markdown"] > 5
    assert not [t for t in opened["toasts"] if "news" in t.lower()], opened["toasts"]


def test_make_lab_installs_the_settings_into_the_environment_before_starting():
    commands = subprocess.run(["make", "-n", "-B", "lab"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.splitlines()
    install = next(i for i, c in enumerate(commands) if "dlbook.site.lab" in c)
    start = next(i for i, c in enumerate(commands) if '"jupyter", "lab"' in c)
    assert install < start and commands[install].startswith(".venv/bin/python")  # the project's environment


def test_jupyter_lab_opens_a_chinese_chapter_as_a_notebook(jupyter_lab):
    listing = _get(jupyter_lab, "/api/contents/chapters/zh")
    chapters = sorted(path.name for path in (ROOT / "chapters" / "zh").glob("[0-9][0-9]_*.md"))
    listed = {entry["name"]: entry["type"] for entry in listing["content"]}
    assert chapters and {name: listed.get(name) for name in chapters} == dict.fromkeys(chapters, "notebook")
    chapter = _get(jupyter_lab, f"/api/contents/chapters/zh/{chapters[0]}?type=notebook&content=1")
    cells = chapter["content"]["cells"]
    assert cells[0]["cell_type"] == "markdown" and "**书中章节:**" in cells[0]["source"]
    assert any("dlbook.setup()" in cell["source"] for cell in cells if cell["cell_type"] == "code")
