"""course.py as a learner meets it: `lab` opens the learner's workbook (`--solutions` the full versions), arguments
reach JupyterLab, Ctrl-C stops it cleanly, a headless run reports every chapter, the README's papermill example
runs as written, `--help` installs nothing, and mistakes end in one clear message and an exit code, never a
traceback."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COURSE_PY = ROOT / "course.py"


def load_course():  # course.py is a script at the top of the repository, not part of helpers
    spec = importlib.util.spec_from_file_location("course", COURSE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course = load_course()

FAKE_PYTHON = Path("/venv/bin/python")


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Commands course.py would run for ``lab``, recorded instead of run (no venv set-up, no JupyterLab)."""
    commands: list[list[str]] = []
    monkeypatch.setattr(course, "ensure_environment", lambda kind, retry: FAKE_PYTHON)
    monkeypatch.setattr(course, "has_curve", lambda python: True)
    monkeypatch.setattr(course, "make_workbook", lambda python, folder: commands.append(["workbook", str(folder)]) or 0)
    monkeypatch.setattr(course, "run_until_interrupted", lambda command, env=None: commands.append(command) or 0)
    return commands


def no_install(kind: str, retry: str) -> Path:
    pytest.fail(f"course.py started installing ({kind}) where it should not")


def notebook(path: Path, *sources: str) -> Path:
    """A small notebook of code cells, unexecuted."""
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell{i}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for i, source in enumerate(sources)
    ]
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "jupyter_args",
    [
        ["--no-browser", "--port", "8888", "--ip", "127.0.0.1", "--allow-root"],
        ["--port=8889", "--ServerApp.token=a-token-of-my-choosing", "--no-browser"],
        [],
    ],
)
def test_lab_passes_every_argument_after_lab_to_jupyterlab(launched: list[list[str]], jupyter_args: list[str]) -> None:
    assert course.main(["lab", *jupyter_args]) == 0
    assert launched == [
        ["workbook", str(course.WORKBOOK)],
        [
            str(FAKE_PYTHON),
            "-m",
            "jupyter",
            "lab",
            f"--notebook-dir={course.WORKBOOK}",
            "--KernelManager.transport_encryption=auto",
            *jupyter_args,
        ],
    ]


def test_lab_solutions_opens_the_full_versions_and_makes_no_workbook(launched: list[list[str]]) -> None:
    assert course.main(["lab", "--solutions", "--no-browser"]) == 0
    assert launched == [
        [
            str(FAKE_PYTHON),
            "-m",
            "jupyter",
            "lab",
            f"--notebook-dir={course.NOTEBOOKS}",
            "--KernelManager.transport_encryption=auto",
            "--no-browser",
        ]
    ]


def test_lab_opens_nothing_when_the_workbook_cannot_be_made(
    monkeypatch: pytest.MonkeyPatch, launched: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(course, "make_workbook", lambda python, folder: 1)
    assert course.main(["lab"]) == 1
    assert launched == [] and "could not make your copies in workbook/" in capsys.readouterr().err


def test_the_workbook_is_git_ignored() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert f"{course.WORKBOOK.name}/" in ignored, "a learner's copies must never be committed by accident"


def test_lab_leaves_kernel_encryption_to_a_caller_who_sets_it(launched: list[list[str]]) -> None:
    assert course.main(["lab", "--KernelManager.transport_encryption=required"]) == 0
    assert [arg for arg in launched[-1] if "transport_encryption" in arg] == [
        "--KernelManager.transport_encryption=required"
    ]


def test_lab_leaves_kernel_encryption_off_where_pyzmq_cannot_do_it() -> None:
    assert "--KernelManager.transport_encryption=auto" not in course.lab_command(
        FAKE_PYTHON, course.WORKBOOK, [], encrypted_kernels=False
    )


def test_this_environment_encrypts_kernel_channels() -> None:
    assert course.has_curve(Path(sys.executable)), "pyzmq without CurveZMQ: kernels would talk in plain text"


@pytest.mark.parametrize(
    "argv",
    [
        ["lab", "--headless", "--port=8888"],
        ["lab", "--out", "somewhere"],
        ["lab", "--headless", "no/such/notebook.ipynb"],
        ["lab", "--solutions", "--headless"],
        ["lecture"],
        [],
        ["execute", "--fast"],
        ["execute", "no/such/notebook.ipynb"],
        ["grade", "--all"],
        ["student", "--grade", "tests/test_course_cli.py", "--out", "handout"],
        ["student", "notebooks/03_jwt_from_scratch.ipynb", "--grade", "tests/test_course_cli.py"],
        ["student", "--workers", "0"],
        ["student", "--bogus"],
        ["student", "--grade", "no/such/03_jwt_from_scratch.ipynb"],
    ],
)
def test_arguments_that_mean_nothing_there_are_a_usage_error_before_any_install(
    launched: list[list[str]], monkeypatch: pytest.MonkeyPatch, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(course, "ensure_environment", no_install)
    with pytest.raises(SystemExit) as stopped:
        course.main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "error:" in err and "Traceback" not in err, err
    assert launched == []


@pytest.mark.parametrize("command", ["", "lab", "grade", "student", "test", "execute"])
def test_help_installs_nothing_even_on_a_fresh_clone(tmp_path: Path, command: str) -> None:
    clone = tmp_path / "clone"  # course.py alone: no .venv, no requirements, nothing to install from
    clone.mkdir()
    (clone / "course.py").write_bytes(COURSE_PY.read_bytes())
    result = subprocess.run(
        [sys.executable, "course.py", *filter(None, [command]), "--help"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.startswith(f"usage: course.py {command}".rstrip()), result.stdout[:200]
    assert sorted(path.name for path in clone.iterdir()) == ["course.py"], "--help created files"


def fresh_clone_with_a_broken_pip(tmp_path: Path) -> Path:
    """course.py and its requirements in a folder whose .venv's python fails every command, as pip does offline."""
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("course.py", "requirements.txt", "requirements-test.txt", "pyproject.toml"):
        (clone / name).write_bytes((ROOT / name).read_bytes())
    python = clone / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\necho 'ERROR: Could not find a version that satisfies the requirement' >&2\nexit 1\n")
    python.chmod(0o755)
    return clone


@pytest.mark.skipif(os.name == "nt", reason="a POSIX shell script stands in for the venv's python")
@pytest.mark.parametrize(
    ("argv", "retry"), [(["lab"], "python3 course.py lab"), (["test", "-k", "x"], "python3 course.py test")]
)
def test_a_failed_install_says_what_failed_and_how_to_retry(tmp_path: Path, argv: list[str], retry: str) -> None:
    clone = fresh_clone_with_a_broken_pip(tmp_path)
    result = subprocess.run([sys.executable, "course.py", *argv], cwd=clone, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    kind = "requirements.txt" if argv[0] == "lab" else "requirements-test.txt"
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(f"course.py: error: installing {kind} into .venv/ failed (pip exited with code 1"), (
        message
    )
    assert f"run `{retry}` again" in message
    assert not list((clone / ".venv").glob(".installed-*")), "a failed install must be retried next time"


def test_a_venv_that_cannot_be_made_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_ensurepip(self: object, folder: object) -> None:
        raise subprocess.CalledProcessError(1, ["python3", "-m", "ensurepip"])

    monkeypatch.setattr(course, "VENV", tmp_path / ".venv")
    monkeypatch.setattr(course.venv.EnvBuilder, "create", no_ensurepip)
    assert course.main(["execute"]) == 1
    err = capsys.readouterr().err
    assert "could not create .venv/" in err and "python3-venv" in err and "Traceback" not in err, err


def test_student_passes_on_the_grading_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "03_jwt_from_scratch.ipynb"  # a chapter's name, but not a notebook
    broken.write_text("{ this is not JSON", encoding="utf-8")
    monkeypatch.setattr(course, "ensure_environment", lambda kind, retry: Path(sys.executable))
    assert course.main(["student", "--grade", str(broken)]) == 1
    captured = capfd.readouterr()
    assert "03_jwt_from_scratch.ipynb: could not be graded (" in captured.out
    assert "Traceback" not in captured.err, captured.err


def test_course_py_names_only_files_that_exist() -> None:
    source = COURSE_PY.read_text(encoding="utf-8")
    tools = re.findall(r'ROOT / "tools" / "([\w.]+)"', source)
    assert tools and all((ROOT / "tools" / name).is_file() for name in tools), tools
    named = re.findall(r"\b((?:notebooks|tools|tests|data)/[\w./-]+\.\w+)", source)
    assert all((ROOT / name).exists() for name in named), [name for name in named if not (ROOT / name).exists()]
    assert all(path.is_file() for path in course.REQUIREMENTS.values())


def test_headless_runs_every_notebook_after_a_failure_and_ends_with_a_summary(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    first = notebook(tmp_path / "01_fine.ipynb", "print('one')")
    broken = notebook(tmp_path / "02_broken.ipynb", "raise RuntimeError('this chapter fails')")
    last = notebook(tmp_path / "03_after.ipynb", "from pathlib import Path\nprint(Path.cwd().name)")
    out = tmp_path / "executed"
    code = course.run_headless(Path(sys.executable), [first, broken, last], out, env=course.course_environment())
    printed = capfd.readouterr().out
    assert code == 1, "a failed chapter makes the run fail"
    rows = re.findall(r"^(0\d_\w+)\s+(ok|FAILED)\s+(\d+\.\d)$", printed, flags=re.MULTILINE)
    assert [(name, result) for name, result, _ in rows] == [
        ("01_fine", "ok"),
        ("02_broken", "FAILED"),
        ("03_after", "ok"),
    ]
    assert "2 of 3 ok, 1 FAILED" in printed
    executed = json.loads((out / "03_after.ipynb").read_text(encoding="utf-8"))
    assert "".join(executed["cells"][0]["outputs"][0]["text"]) == f"{tmp_path.name}\n", (
        "the kernel runs in the notebook's folder"
    )


@pytest.mark.parametrize(
    ("version", "env", "needed"),
    [
        ((3, 13), {}, "REDIS_URL and DATABASE_URL"),
        ((3, 14), {"REDIS_URL": "redis://127.0.0.1:6379/0"}, "DATABASE_URL"),
        ((3, 13), {"REDIS_URL": "redis://h/0", "DATABASE_URL": "postgresql://h/db"}, None),
        ((3, 12), {}, None),
        ((3, 10), {}, None),
    ],
)
def test_on_a_python_without_embedded_servers_the_hint_names_what_to_set(
    version: tuple[int, int], env: dict[str, str], needed: str | None
) -> None:
    hint = course.shared_store_hint(version, env)
    if needed is None:
        assert hint is None
    else:
        assert hint is not None and f"needs {needed} set" in hint and "3.10-3.12" in hint
        assert "pip install" not in hint, "installing again cannot help: there are no wheels"


def test_venv_version_reads_pyvenv_cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.13.1\n", encoding="utf-8")
    monkeypatch.setattr(course, "VENV", tmp_path)
    assert course.venv_version() == (3, 13)


def test_summary_table_lines_up_and_counts() -> None:
    table = course.summary_table([("01_auth", True, 3.25), ("07_scaling", False, 12.0)])
    assert table.splitlines() == [
        "notebook    result  seconds",
        "----------  ------  -------",
        "01_auth     ok          3.2",
        "07_scaling  FAILED     12.0",
        "1 of 2 ok, 1 FAILED",
    ]


CHILD = textwrap.dedent("""
    import signal, sys, time
    def stop(signum, frame):
        print("child: stopped cleanly on signal", signum, flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print("child: ready", flush=True)
    time.sleep(60)
""")

PARENT = textwrap.dedent(f"""
    import runpy, sys
    course = runpy.run_path({str(COURSE_PY)!r})
    sys.exit(course["run_until_interrupted"]([sys.executable, "-c", {CHILD!r}]))
""")


def start_parent() -> subprocess.Popen[str]:
    """course.run_until_interrupted in a process group of its own, as a terminal's foreground job is."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert parent.stdout is not None
    assert parent.stdout.readline() == "child: ready\n"
    return parent


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_ctrl_c_stops_jupyterlab_gracefully_without_a_traceback() -> None:
    parent = start_parent()
    os.killpg(parent.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole foreground group
    out, err = parent.communicate(timeout=30)
    assert parent.returncode == 130
    assert f"child: stopped cleanly on signal {int(signal.SIGTERM)}" in out
    assert "Ctrl-C: stopping JupyterLab" in out
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_a_terminated_launcher_takes_jupyterlab_with_it() -> None:
    parent = start_parent()
    parent.terminate()
    out, err = parent.communicate(timeout=30)
    assert parent.returncode == 0, "JupyterLab's own exit code, after it stopped on SIGTERM"
    assert f"child: stopped cleanly on signal {int(signal.SIGTERM)}" in out
    assert "Traceback" not in err, err


def readme_papermill_example() -> str:
    """The shell lines of the README's papermill example."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
    (block,) = [block for block in blocks if "papermill" in block]
    return block


@pytest.mark.skipif(os.name == "nt", reason="the README's example is a POSIX shell command")
def test_readme_papermill_example_runs_as_written_from_a_fresh_clone(tmp_path: Path) -> None:
    # A fresh clone: no build/ folder. The run is the README's, with the quick default sizes.
    example = readme_papermill_example()
    assert "-p FULL_RUN True" in example
    for name in ("notebooks", ".venv"):
        (tmp_path / name).symlink_to(ROOT / name)
    result = subprocess.run(
        ["bash", "-euc", example.replace("-p FULL_RUN True", "-p FULL_RUN False")],
        cwd=tmp_path,
        env=course.course_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    executed = json.loads((tmp_path / "build" / "07_scaling_full.ipynb").read_text(encoding="utf-8"))
    assert executed["metadata"]["papermill"]["parameters"] == {"FULL_RUN": False}


def test_execute_writes_the_metadata_jupyterlab_writes_over_encrypted_kernel_channels(tmp_path: Path) -> None:
    path = notebook(tmp_path / "01_tiny.ipynb", "print(6 * 7)")
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["metadata"]["kernelspec"]["display_name"] = "Python 3"  # as an older tool wrote it
    path.write_text(json.dumps(nb), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "execute_notebooks.py"), str(path)],
        env=course.course_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "without encryption" not in result.stderr, result.stderr
    executed = json.loads(path.read_text(encoding="utf-8"))
    assert executed["metadata"]["kernelspec"] == {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    info = executed["metadata"]["language_info"]
    assert (info["name"], info["version"]) == ("python", sys.version.split()[0])
    assert (executed["nbformat"], executed["nbformat_minor"]) == (4, 5)
    assert "".join(executed["cells"][0]["outputs"][0]["text"]) == "42\n"
    assert "execution" not in executed["cells"][0]["metadata"]
