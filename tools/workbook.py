"""A learner's own copies of the chapters, made from the student versions and never overwritten by the course.

Run through ``python3 course.py lab`` (into ``workbook/``). On first use every chapter's student version
(solutions stubbed, hidden tests and outputs removed, as ``tools/classroom.py`` makes it) is written
into the folder. A manifest there (``.issued.json``) records, per chapter, a hash of the file handed
out and of its cells' sources, so a later run can tell a learner's edited copy from an untouched one:

- a copy whose cells still read as handed out is brought up to date when the chapter changes;
- an edited copy is never written to: the chapter's new version goes beside it as
  ``NN_name.new-<hash>.ipynb``, and one line says so;
- a copy the learner deleted is handed out again, fresh.

A file in the folder that the manifest does not know is treated as the learner's own work.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import classroom
import nbformat
from nbformat import NotebookNode

MANIFEST = ".issued.json"
MANIFEST_FORMAT = 1


def file_text(nb: NotebookNode) -> str:
    """The notebook as the text written to disk (nbformat's layout, a final newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def text_hash(text: str) -> str:
    """SHA-256 of a notebook file's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cells_hash(nb: NotebookNode) -> str:
    """SHA-256 of what a learner writes: each cell's type and source (outputs and metadata left out)."""
    cells = [[cell.cell_type, cell.source] for cell in nb.cells]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` beside ``path``, flushed to disk, then rename: a reader never sees half a file."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(text.encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())  # else a power cut can leave an empty file under the final name
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def read_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """What was handed out, per chapter file name (empty for a new folder or an unreadable manifest).

    An unreadable manifest is moved aside as ``.issued.json.bad``, not overwritten, so it can be looked at.
    """
    path = folder / MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        document = None
    chapters = document.get("chapters") if isinstance(document, dict) else None
    if not isinstance(chapters, dict):
        os.replace(path, path.with_name(path.name + ".bad"))
        return {}
    return {name: record for name, record in chapters.items() if isinstance(record, dict)}


def write_manifest(folder: Path, chapters: dict[str, dict[str, str]]) -> None:
    """Record what was handed out."""
    document = {"format": MANIFEST_FORMAT, "chapters": dict(sorted(chapters.items()))}
    write_atomically(folder / MANIFEST, json.dumps(document, indent=1) + "\n")


def learner_cells_hash(path: Path) -> str | None:
    """The cells hash of the learner's file, or None if it no longer reads as a notebook."""
    try:
        return cells_hash(classroom.read(path))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def beside_name(path: Path, issued: str) -> Path:
    """Where a chapter's new version goes when the learner's copy is kept: ``NN_name.new-<hash>.ipynb``."""
    return path.with_name(f"{path.stem}.new-{issued[:8]}{path.suffix}")


def sync_chapter(source_path: Path, folder: Path, record: dict[str, str] | None) -> tuple[dict[str, str], str | None]:
    """Bring one chapter's copy in ``folder`` up to date without losing an edit; the new record and a message."""
    student = classroom.student_version(classroom.read(source_path))
    text = file_text(student)
    fresh = {"issued": text_hash(text), "cells": cells_hash(student)}
    target = folder / source_path.name
    if not target.exists():
        write_atomically(target, text)
        return fresh, (None if record is None else f"{target.name}: handed out again (your copy was deleted)")
    if record is not None and fresh["issued"] in (record.get("issued"), record.get("offered")):
        return record, None  # the chapter has not changed since it was handed out or offered
    current = learner_cells_hash(target)
    if current == fresh["cells"]:
        return fresh, None  # the copy already reads as the current version
    if record is not None and current is not None and current == record.get("cells"):
        write_atomically(target, text)  # untouched: nothing of the learner's to keep
        return fresh, f"{target.name}: updated to the chapter's new version (you had not changed it)"
    beside = beside_name(target, fresh["issued"])
    if not beside.exists():
        write_atomically(beside, text)
    kept = {**(record or {}), "offered": fresh["issued"]}
    return kept, f"{target.name}: kept your edited copy; the chapter's new version is beside it as {beside.name}"


def sync(sources: Sequence[Path], folder: Path) -> list[str]:
    """Hand out or update a copy of each chapter in ``folder``; never overwrite a learner's edit. What happened."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(folder)
    new = [path.name for path in sources if not (folder / path.name).exists() and path.name not in manifest]
    messages = []
    try:
        for path in sources:
            try:
                manifest[path.name], message = sync_chapter(path, folder, manifest.get(path.name))
            except (OSError, ValueError) as error:  # a chapter that cannot be read or stubbed; the others still can
                new = [name for name in new if name != path.name]
                message = f"{path.name}: not copied ({str(error).splitlines()[0]})"
            if message:
                messages.append(message)
    finally:
        write_manifest(folder, manifest)
    if new:
        messages.insert(
            0, f"Made your own copies of {len(new)} chapter(s) in {folder.name}/, from the student versions."
        )
    return messages


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--into", type=Path, required=True, metavar="DIR", help="the learner's folder (made if missing)"
    )
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="chapters to copy (default: every notebooks/NN_*.ipynb)"
    )
    args = parser.parse_args(argv)
    for message in sync(args.notebooks or classroom.chapters(), args.into.resolve()):
        print(message, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
