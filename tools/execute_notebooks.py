"""Re-execute notebooks in place, each in one clean kernel, top to bottom, for committing.

Run through ``python3 course.py execute [NB ...]``. Keeps outputs, tags and nbgrader metadata; drops
what changes on every run without teaching anything (per-cell timing, widget state).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

VOLATILE_NOTEBOOK_KEYS = ("widgets", "papermill")
VOLATILE_CELL_KEYS = ("execution", "papermill", "collapsed_outputs")


def clean(nb: nbformat.NotebookNode) -> None:
    """Remove run-specific metadata so a re-run only changes what the learner sees."""
    for key in VOLATILE_NOTEBOOK_KEYS:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)


def execute(path: Path) -> float:
    """Execute ``path`` in a fresh kernel with the notebooks folder as working directory; return seconds."""
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - started
    clean(nb)
    nbformat.write(nb, path)
    return elapsed


def main(paths: list[str]) -> int:
    for name in paths:
        path = Path(name)
        print(f"{path.name}: executed in {execute(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
