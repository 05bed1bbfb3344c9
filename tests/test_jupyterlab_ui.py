"""What a learner sees: JupyterLab started as ``course.py lab --solutions`` starts it, every chapter run through its UI
in Chromium.

For each chapter (a copy in a temporary folder: the committed notebooks are never touched) the test
opens it, checks that opening alone did not mark it modified, clicks Run → Run All Cells, waits for
the kernel to finish, and fails on any error or stderr output or on a chart that did not render (as
many images as the committed notebook has, each decoded by the browser). A screenshot of each chapter
lands in build/jupyterlab/. The server runs with its runtime, config and settings folders inside the
temporary folder; afterwards the kernels and the server are shut down and none may be left running.
Without Playwright or a Chromium this module skips with one line; with ``CI=true`` that skip is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support import require_browser

from helpers.browser import chromium

require_browser("the JupyterLab test")

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SCREENSHOTS = ROOT / "build" / "jupyterlab"
START_TIMEOUT = 60.0  # seconds for JupyterLab to answer
CHAPTER_TIMEOUT = 240.0  # seconds for one chapter's Run All (5-20 s normally; generous for a loaded machine)
# JupyterLab writes the kernel's kernelspec and language_info into the notebook 1-3 s after the kernel is
# idle, which marks it modified if they differ from the saved ones (the tab also flickers "modified" for a
# moment while the notebook loads): the verdict is the tab's state this long after the kernel is idle.
SETTLE = 6.0
# Settings written into the server's own settings folder: every cell in the DOM (no virtual scrolling),
# so each output can be checked, and no "get notified about Jupyter news?" toast over the screenshots.
SETTINGS = {
    ("@jupyterlab", "notebook-extension", "tracker"): {"windowingMode": "none"},
    ("@jupyterlab", "apputils-extension", "notification"): {"fetchNews": "false"},
}


def load_course() -> Any:
    spec = importlib.util.spec_from_file_location("course", ROOT / "course.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def image_outputs(notebook: Path) -> int:
    """How many image outputs (charts) the committed notebook shows."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum(
        1
        for cell in cells
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
        if {"image/png", "image/svg+xml"} & set(output.get("data", {}))
    )


def own_processes(marker: str) -> list[int]:
    """PIDs whose command line mentions ``marker`` (the temporary folder): the server and its kernels."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class Lab:
    """A JupyterLab on a loopback port with a random token, serving copies of the full versions, or (``learner``)
    a learner's workbook made as ``course.py lab`` makes it."""

    def __init__(self, folder: Path, learner: bool = False) -> None:
        course = load_course()
        python = Path(sys.executable)
        self.folder = folder
        if learner:
            self.notebooks = folder / "workbook"
            assert course.make_workbook(python, self.notebooks) == 0
        else:
            self.notebooks = folder / "notebooks"
            shutil.copytree(ROOT / "notebooks", self.notebooks)
        for (scope, extension, plugin), values in SETTINGS.items():
            settings = folder / "settings" / scope / extension
            settings.mkdir(parents=True, exist_ok=True)
            (settings / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values), encoding="utf-8")
        self.token = secrets.token_urlsafe(24)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        extra = [
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--IdentityProvider.token={self.token}",
            f"--LabApp.user_settings_dir={folder / 'settings'}",
            f"--LabApp.workspaces_dir={folder / 'workspaces'}",
            "--ServerApp.port_retries=0",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            extra.append("--allow-root")
        # course.py's own command line (`lab --solutions`, or `lab`), pointed at the copies: the full versions
        # run through; a learner's copies stop at the first exercise by design.
        command = course.lab_command(python, self.notebooks, extra, course.has_curve(python))
        env = {
            **course.course_environment(),
            "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
            "JUPYTER_CONFIG_DIR": str(folder / "config"),
            "IPYTHONDIR": str(folder / "ipython"),
        }
        self.log = (folder / "jupyterlab.log").open("wb")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.api = requests.Session()
        self.api.trust_env = False
        self.api.headers["Authorization"] = f"token {self.token}"
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}: {self.log_text()[-2000:]}")
            try:
                if self.api.get(self.base + "/api/status", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"JupyterLab did not answer within {START_TIMEOUT} s: {self.log_text()[-2000:]}")

    def log_text(self) -> str:
        return (self.folder / "jupyterlab.log").read_text(errors="replace")

    def shut_down_kernels(self) -> None:
        for kernel in self.api.get(self.base + "/api/kernels", timeout=10).json():
            self.api.delete(f"{self.base}/api/kernels/{kernel['id']}", timeout=30)

    def stop(self) -> None:
        try:
            self.shut_down_kernels()
        except requests.RequestException:
            pass  # the server is gone already; the process group below is still ended
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.api.close()
        self.log.close()


def serve(folder: Path, learner: bool = False) -> Iterator[Lab]:
    """A running Lab for a test module; afterwards stopped, and no process of it left."""
    running = Lab(folder, learner)
    yield running
    running.stop()
    deadline = time.monotonic() + 10
    while own_processes(str(folder)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = own_processes(str(folder))
    for pid in left:  # never leave a kernel behind, even when failing
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, f"processes left running after JupyterLab stopped: {left}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from serve(tmp_path_factory.mktemp("jupyterlab"))


@pytest.fixture(scope="module")
def learner_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from serve(tmp_path_factory.mktemp("jupyterlab-learner"), learner=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on show


def wait_for_idle_kernel(page: Any, timeout: float) -> None:
    """Wait until the notebook's kernel reports Idle in the toolbar's status indicator."""
    page.wait_for_function(
        f"() => {{ const s = document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }",
        timeout=timeout * 1000,
    )


def menu(page: Any, top: str, item: str) -> None:
    """Click a menu bar entry, then one of its items, as a learner does."""
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def open_notebook(page: Any, lab: Lab, name: str) -> bool:
    """Open ``name`` in a fresh workspace and wait for its kernel; True if merely opening it marked it modified."""
    page.goto(f"{lab.base}/lab/tree/{name}?reset&token={lab.token}")  # reset: no tabs from the last chapter
    page.wait_for_selector(f"{PANEL} .jp-Cell")
    wait_for_idle_kernel(page, START_TIMEOUT)
    page.wait_for_timeout(SETTLE * 1000)
    return page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count() > 0


def run_all(page: Any) -> int:
    """Clear every output, then Run → Run All Cells; wait until nothing is queued or running. How many cells never ran.

    A cell that raises stops Run All: the cells after it keep an empty prompt, and the count says so.
    """
    prompts = f"[...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')].map(p => p.textContent)"
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(f"() => {prompts}.every(text => !/\\d/.test(text))")
    menu(page, "Run", "Run All Cells")
    # Done when the first cell has its number, none is queued or running ("[*]"), and the kernel is idle.
    page.wait_for_function(
        f"() => {{ const texts = {prompts}; const s = document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator');"
        " return texts.length > 0 && /\\d/.test(texts[0]) && !texts.some(text => text.includes('*'))"
        " && s && s.getAttribute('data-status') === 'idle'; }",
        timeout=CHAPTER_TIMEOUT * 1000,
    )
    return int(page.evaluate(f"() => {prompts}.filter(text => !/\\d/.test(text)).length"))


def error_outputs(page: Any) -> list[str]:
    """The text of every error traceback and stderr stream the notebook shows."""
    return page.locator(f"{PANEL} [data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()


def charts(page: Any) -> tuple[int, int]:
    """(images shown, images the browser decoded)."""
    shown, decoded = page.evaluate(
        f"() => {{ const images = [...document.querySelectorAll('{PANEL} .jp-RenderedImage img')];"
        " return [images.length, images.filter(i => i.complete && i.naturalWidth > 0).length]; }"
    )
    return shown, decoded


@pytest.fixture
def page(lab: Lab, browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.set_default_timeout(START_TIMEOUT * 1000)
    try:
        yield opened
    finally:
        context.close()
        lab.shut_down_kernels()


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[path.stem[:2] for path in CHAPTERS])
def test_a_learner_runs_the_chapter_in_jupyterlab(lab: Lab, page: Any, notebook: Path) -> None:
    copy = lab.notebooks / notebook.name  # the file JupyterLab runs, copied when the server started
    assert not open_notebook(page, lab, notebook.name), "opening the chapter marked it modified"
    code_cells = [c for c in json.loads(copy.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    assert page.locator(f"{PANEL} .jp-CodeCell").count() == len(code_cells)
    not_run = run_all(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{notebook.stem}.png"))
    assert page.locator(".jp-Dialog").count() == 0, "a dialog is open"
    errors = error_outputs(page)
    assert errors == [], f"{notebook.name}: error or stderr output:\n" + "\n---\n".join(e[:1500] for e in errors)
    assert not_run == 0, f"{not_run} cell(s) never ran"
    assert charts(page) == (image_outputs(copy),) * 2, "not every chart rendered"


def test_the_checks_catch_a_broken_notebook(lab: Lab, page: Any) -> None:
    """The same checks on a notebook that changes on opening, writes to stderr, shows a chart that cannot draw, and
    fails before its last cell."""
    broken = json.loads(CHAPTERS[0].read_text(encoding="utf-8"))
    broken["metadata"]["language_info"]["version"] = "2.7.18"  # the kernel's own version replaces it on opening
    broken["cells"] = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "stderr",
            "metadata": {},
            "outputs": [],
            "source": "import sys; print('careful', file=sys.stderr)",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "chart",
            "metadata": {},
            "outputs": [],
            "source": "from IPython.display import display; display({'image/png': 'AAAA'}, raw=True)  # not a PNG",
        },
        {"cell_type": "code", "execution_count": None, "id": "error", "metadata": {}, "outputs": [], "source": "1 / 0"},
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "after",
            "metadata": {},
            "outputs": [],
            "source": "print('Run All stopped before this cell')",
        },
    ]
    (lab.notebooks / "zz_broken.ipynb").write_text(json.dumps(broken), encoding="utf-8")
    assert open_notebook(page, lab, "zz_broken.ipynb")
    assert run_all(page) == 1  # the cell after the error
    errors = error_outputs(page)
    assert len(errors) == 2 and "careful" in errors[0] and "ZeroDivisionError" in errors[1]
    assert charts(page) == (1, 0)  # shown, never decoded


def test_a_learner_meets_their_own_copy_which_stops_at_the_first_exercise(learner_lab: Lab, browser: Any) -> None:
    """``course.py lab``: JupyterLab's root is the workbook (the full versions are not reachable from it), and
    Run All on a fresh copy stops at the first exercise's unsolved stub."""
    listing = learner_lab.api.get(f"{learner_lab.base}/api/contents/", timeout=10).json()["content"]
    assert sorted(item["name"] for item in listing) == [path.name for path in CHAPTERS]
    outside = learner_lab.api.get(f"{learner_lab.base}/api/contents/..%2Fnotebooks", timeout=10)
    assert outside.status_code >= 400, "the full versions are reachable from the learner's JupyterLab"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(START_TIMEOUT * 1000)
    try:
        assert not open_notebook(page, learner_lab, CHAPTERS[0].name), "opening the copy marked it modified"
        not_run = run_all(page)
        errors = error_outputs(page)
    finally:
        context.close()
        learner_lab.shut_down_kernels()
    assert len(errors) == 1 and "NotImplementedError" in errors[0], errors
    assert not_run > 0, "Run All went past an unsolved exercise"
