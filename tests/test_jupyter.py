"""The reader's front end: the installed JupyterLab opens the chapters' Markdown files as notebooks.

``make lab`` starts JupyterLab at the repository root; jupytext's server extension replaces the
contents manager so that ``chapters/NN_slug.md`` opens as a notebook. This test starts the
installed server the same way and asks its REST API for a chapter.
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

from tests.conftest import ROOT

TOKEN = "dlbook-test-token"


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
    """The base URL of a JupyterLab server of this environment, rooted at the checkout; stopped afterwards."""
    tmp_path = tmp_path_factory.mktemp("jupyter")
    port = _free_port()
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers run as root; Jupyter refuses that unless told
    log = tmp_path / "jupyter.log"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
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
    chapter = _get(jupyter_lab, "/api/contents/chapters/05_mnist_cnn.md?type=notebook&content=1")
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


def test_jupyter_lab_opens_a_chinese_chapter_as_a_notebook(jupyter_lab):
    listing = _get(jupyter_lab, "/api/contents/chapters/zh")
    chapters = sorted(path.name for path in (ROOT / "chapters" / "zh").glob("[0-9][0-9]_*.md"))
    listed = {entry["name"]: entry["type"] for entry in listing["content"]}
    assert chapters and {name: listed.get(name) for name in chapters} == dict.fromkeys(chapters, "notebook")
    chapter = _get(jupyter_lab, f"/api/contents/chapters/zh/{chapters[0]}?type=notebook&content=1")
    cells = chapter["content"]["cells"]
    assert cells[0]["cell_type"] == "markdown" and "**书中章节:**" in cells[0]["source"]
    assert any("dlbook.setup()" in cell["source"] for cell in cells if cell["cell_type"] == "code")
