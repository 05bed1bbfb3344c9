"""Execute notebooks, each in one clean kernel, top to bottom: in place for committing, or into a folder.

Run through ``python3 course.py execute [NB ...]`` (in place) and ``python3 course.py lab --headless``
(``--into DIR``, with papermill). In place, it keeps outputs, tags and nbgrader metadata; drops what
changes on every run without teaching anything (per-cell timing, widget state); and writes the
kernelspec and language_info exactly as JupyterLab does, so opening a committed chapter in JupyterLab
does not mark it modified. Kernels talk to this process over encrypted channels (see ``kernel_config``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
import zmq
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from traitlets.config import Config

KERNEL_NAME = "python3"
VOLATILE_NOTEBOOK_KEYS = ("widgets", "papermill")
VOLATILE_CELL_KEYS = ("execution", "papermill", "collapsed_outputs")


def kernel_config() -> Config:
    """Kernel manager settings: CurveZMQ-encrypted kernel channels wherever pyzmq supports them.

    A kernel's ZeroMQ ports listen on 127.0.0.1, where every local user can reach them; messages are
    signed with the connection file's key, but without encryption code and outputs cross in plain text.
    """
    if not zmq.has("curve"):
        return Config()
    return Config({"KernelManager": {"transport_encryption": "auto"}})


def kernelspec_metadata(name: str = KERNEL_NAME) -> dict[str, str]:
    """The notebook's ``kernelspec`` as JupyterLab writes it, from the installed kernel's own spec."""
    spec = KernelSpecManager().get_kernel_spec(name)
    return {"display_name": spec.display_name, "language": spec.language, "name": name}


def clean(nb: nbformat.NotebookNode) -> None:
    """Remove run-specific metadata so a re-run only changes what the learner sees."""
    for key in VOLATILE_NOTEBOOK_KEYS:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)


def execute(path: Path) -> float:
    """Execute ``path`` in place in a fresh kernel, the notebook's folder as working directory; return seconds."""
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    # nbclient records language_info from the kernel's reply, as JupyterLab does.
    NotebookClient(
        nb,
        timeout=600,
        kernel_name=KERNEL_NAME,
        record_timing=False,
        config=kernel_config(),
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    elapsed = time.perf_counter() - started
    clean(nb)
    nb.metadata["kernelspec"] = kernelspec_metadata()
    # Write beside it, then rename: a reader (nbval, JupyterLab) never sees a half-written notebook.
    partial = path.with_name(f".{path.name}.partial")
    nbformat.write(nb, partial)
    os.replace(partial, path)
    return elapsed


def execute_into(path: Path, out_dir: Path) -> bool:
    """Run ``path`` with papermill into ``out_dir``, the kernel in the notebook's folder; False if a cell failed."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(path),
            str(out_dir / path.name),
            cwd=str(path.parent),
            progress_bar=False,
            kernel_name=KERNEL_NAME,
            config=kernel_config(),
        )
    except PapermillExecutionError as error:
        print(f"{path.name} failed:{error}", file=sys.stderr, flush=True)
        return False
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument(
        "--into",
        metavar="DIR",
        type=Path,
        help="run with papermill and write the executed copies here, leaving the notebooks as they are",
    )
    args = parser.parse_args(argv)
    if args.into is not None:
        return 0 if all([execute_into(path, args.into) for path in args.notebooks]) else 1
    for path in args.notebooks:
        print(f"{path.name}: executed in {execute(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
