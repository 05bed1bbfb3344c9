#!/usr/bin/env python3
"""One entry point for the course, standard library only, so it runs on a fresh Python >= 3.10.

    python3 course.py lab              set up .venv if needed, then open the course in JupyterLab
    python3 course.py lab --headless   run every notebook top to bottom with papermill into build/executed/
    python3 course.py test             set up .venv with the test tools, then run the tests and nbval
    python3 course.py execute [NB ...] re-execute notebooks in place for committing (maintainers)
    python3 course.py student [--out DIR]
                                       teachers: write student versions into build/student/ (or DIR),
                                       check them and print each chapter's autograded score
    python3 course.py student --grade FILE ...
                                       teachers: autograde learners' submitted copies of the chapters

Extra arguments after ``test`` go to pytest (``python3 course.py test -k tokens``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
NOTEBOOKS = ROOT / "notebooks"
SANITIZE = NOTEBOOKS / "sanitize.cfg"
REQUIREMENTS = {"course": ROOT / "requirements.txt", "test": ROOT / "requirements-test.txt"}

if sys.version_info < (3, 10):
    sys.exit(f"The course needs Python 3.10 or newer; this is {sys.version.split()[0]}.")


def venv_python() -> Path:
    """The interpreter inside .venv (Scripts\\python.exe on Windows)."""
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def requirements_fingerprint(kind: str) -> str:
    """A hash of everything that decides what gets installed, so edits trigger a reinstall."""
    digest = hashlib.sha256()
    for path in (REQUIREMENTS["course"], REQUIREMENTS[kind], ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment(kind: str) -> Path:
    """Create .venv when missing and install the course (and for ``test`` the test tools) when out of date."""
    python = venv_python()
    if not python.exists():
        print(f"Creating a virtual environment in {VENV.name}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{kind}"
    fingerprint = requirements_fingerprint(kind)
    if not stamp.exists() or stamp.read_text() != fingerprint:
        print(f"Installing {REQUIREMENTS[kind].name} (first run only, a few minutes) ...", flush=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS[kind])],
            cwd=ROOT,
            check=True,
        )
        stamp.write_text(fingerprint)
    return python


def course_environment() -> dict[str, str]:
    """The environment for Jupyter and pytest: the venv's own kernel first, whatever the user has installed."""
    env = dict(os.environ)
    # JUPYTER_PATH is searched before the user's kernel folders, so "python3" is this venv's kernel.
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(VENV / "share" / "jupyter"), env.get("JUPYTER_PATH", "")]))
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # keeps the kernel's debugger from warning on stderr
    return env


def notebook_paths(names: list[str]) -> list[Path]:
    """The notebooks named on the command line, or all of them in course order."""
    if names:
        return [Path(name).resolve() for name in names]
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def run_lab(headless: bool) -> int:
    """Open JupyterLab on notebooks/, or with --headless run each notebook with papermill into build/executed/."""
    python = ensure_environment("course")
    env = course_environment()
    if not headless:
        return subprocess.call([str(python), "-m", "jupyter", "lab", f"--notebook-dir={NOTEBOOKS}"], env=env)
    out_dir = ROOT / "build" / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = notebook_paths([])
    if not paths:
        print("No notebooks yet.")
        return 0
    for path in paths:
        started = time.perf_counter()
        print(f"{path.name} ...", end=" ", flush=True)
        code = subprocess.call(
            [str(python), "-m", "papermill", "--no-progress-bar", "--log-level", "WARNING", "--cwd", str(NOTEBOOKS), str(path), str(out_dir / path.name)],
            env=env,
        )
        print(f"{'ok' if code == 0 else 'FAILED'} in {time.perf_counter() - started:.1f} s", flush=True)
        if code:
            return code
    print(f"Executed notebooks are in {out_dir.relative_to(ROOT)}/")
    return 0


def run_tests(pytest_args: list[str]) -> int:
    """Run the unit, integration and property tests, then re-execute every notebook with nbval."""
    python = ensure_environment("test")
    command = [str(python), "-m", "pytest", "tests", str(NOTEBOOKS.relative_to(ROOT)), "--nbval"]
    if SANITIZE.exists():
        command += ["--nbval-sanitize-with", str(SANITIZE.relative_to(ROOT))]
    return subprocess.call(command + pytest_args, cwd=ROOT, env=course_environment())


def run_execute(names: list[str]) -> int:
    """Re-execute notebooks in place in one clean kernel each, keeping only what belongs in the repo."""
    python = ensure_environment("test")
    paths = [str(path) for path in notebook_paths(names)]
    return subprocess.call([str(python), str(ROOT / "tools" / "execute_notebooks.py"), *paths], cwd=ROOT, env=course_environment())


def run_student(options: list[str]) -> int:
    """Make, check and autograde the student versions (``--out DIR``), or grade submissions (``--grade FILE ...``)."""
    python = ensure_environment("test")
    # Run from the caller's folder, so --out DIR and submitted FILEs are found where the teacher means.
    return subprocess.call([str(python), str(ROOT / "tools" / "classroom.py"), *options], env=course_environment())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    lab = commands.add_parser("lab", help="open the course in JupyterLab")
    lab.add_argument("--headless", action="store_true", help="run every notebook with papermill instead")
    commands.add_parser("test", help="run the tests and nbval (extra arguments go to pytest)")
    execute = commands.add_parser("execute", help="re-execute notebooks in place for committing")
    execute.add_argument("notebooks", nargs="*")
    commands.add_parser("student", help="make, check and autograde student versions (--out DIR, --grade FILE ...)", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "test":
        return run_tests(rest)
    if args.command == "student":
        return run_student(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "lab":
        return run_lab(args.headless)
    return run_execute(args.notebooks)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
