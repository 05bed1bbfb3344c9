"""nbval compares only what is deterministic: every chapter still matches its committed outputs when the
machine's speed keeps changing under it.

Each chapter is re-run under nbval in a kernel whose ``time.perf_counter`` (behind ``helpers.bench``,
``helpers.load``, ``helpers.attacks`` and the chapters' own timings) is a ``NoisyTimer``: every interval
comes out 0.2 or 5 times its real length, in phases of up to half a second. A cell whose output depends on timing (a ratio, a rank, a
boolean from comparing two timings) then differs from the committed output and fails, unless it is
tagged ``nbval-ignore-output`` or its claim holds with a margin wider than the noise. The timer is put
in place by an IPython startup file, so the chapters run unchanged. Set AUTH_COURSE_TIMER_NOISE_SEED to
try another seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from noisy_timer import NoisyTimer

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SANITIZE = ROOT / "notebooks" / "sanitize.cfg"
SEED = int(os.environ.get("AUTH_COURSE_TIMER_NOISE_SEED", "2026"))

# A cell that prints a timing claim with no margin to speak of: ten 20 ms sleeps each measured between
# 10 and 100 ms. True on any machine with the real timer; almost never True under the noisy one.
TIMING_CLAIM = """import time

def elapsed_s() -> float:
    start = time.perf_counter()
    time.sleep(0.02)
    return time.perf_counter() - start

print("every 20 ms sleep measured 10-100 ms:", all(0.01 < elapsed_s() < 0.1 for _ in range(10)))"""


def ipython_dir_with_noise(folder: Path, seed: int) -> Path:
    """An IPYTHONDIR whose startup file installs a seeded NoisyTimer, outside the notebook's namespace."""
    startup = folder / "profile_default" / "startup"
    startup.mkdir(parents=True)
    source = Path(sys.modules[NoisyTimer.__module__].__file__).read_text(encoding="utf-8") + f"\ninstall({seed})\n"
    (startup / "00-noisy-timer.py").write_text(
        f"exec(compile({source!r}, 'noisy_timer.py', 'exec'), {{'__name__': 'noisy_timer'}})\n", encoding="utf-8"
    )
    return folder


def run_nbval(notebook: Path, ipython_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run nbval on one notebook as ``python3 course.py test`` does, with the given IPYTHONDIR."""
    command = [sys.executable, "-m", "pytest", "--nbval", str(notebook), "-q", "-p", "no:cacheprovider"]
    if SANITIZE.exists():
        command += ["--nbval-sanitize-with", str(SANITIZE)]
    env = {**os.environ, "IPYTHONDIR": str(ipython_dir), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def one_cell_notebook(path: Path, source: str, output: str, tags: list[str]) -> Path:
    """A committed-looking notebook with one executed code cell printing ``output``."""
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "id": "timing",
        "metadata": {"tags": tags},
        "outputs": [{"name": "stdout", "output_type": "stream", "text": output}],
        "source": source,
    }
    nb = {
        "cells": [cell],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


def test_noisy_timer_stretches_and_shrinks_intervals_within_bounds() -> None:
    real = iter(i * 0.001 for i in range(100_000))
    timer = NoisyTimer(seed=1, real=lambda: next(real))
    readings = [timer() for _ in range(5_000)]
    intervals = [b - a for a, b in zip(readings, readings[1:])]
    factors = [interval / 0.001 for interval in intervals]
    assert all(0.2 - 1e-9 <= f <= 5 + 1e-9 for f in factors), "every interval stays within 0.2x-5x its real length"
    assert sum(f < 0.21 for f in factors) > 1_000 and sum(f > 4.99 for f in factors) > 1_000, "both extremes, often"
    real_again = iter(i * 0.001 for i in range(100_000))
    again = NoisyTimer(seed=1, real=lambda: next(real_again))
    assert [again() for _ in range(5_000)] == readings, "one seed, one sequence"


def test_noisy_timer_refuses_a_range_that_excludes_real_speed() -> None:
    with pytest.raises(ValueError, match="low"):
        NoisyTimer(seed=1, low=2.0, high=5.0)


def test_the_noisy_run_catches_an_untagged_timing_claim(tmp_path: Path) -> None:
    output = "every 20 ms sleep measured 10-100 ms: True\n"
    untagged = one_cell_notebook(tmp_path / "untagged.ipynb", TIMING_CLAIM, output, tags=[])
    tagged = one_cell_notebook(tmp_path / "tagged.ipynb", TIMING_CLAIM, output, tags=["nbval-ignore-output"])
    plain = tmp_path / "ipython-plain"
    plain.mkdir()
    assert run_nbval(untagged, plain).returncode == 0, "with the real timer, the claim matches its committed output"
    noisy = ipython_dir_with_noise(tmp_path / "ipython-noisy", SEED)
    caught = run_nbval(untagged, noisy)
    assert caught.returncode != 0 and "10-100 ms: False" in caught.stdout, caught.stdout[-2000:]
    assert run_nbval(tagged, noisy).returncode == 0, "tagged nbval-ignore-output, the cell is not compared"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem[:2] for path in NOTEBOOKS])
def test_chapter_outputs_do_not_depend_on_timing(notebook: Path, tmp_path: Path) -> None:
    result = run_nbval(notebook, ipython_dir_with_noise(tmp_path / "ipython", SEED))
    assert result.returncode == 0, (
        f"{notebook.name}, run with a noisy timer (seed {SEED}), differs from its committed outputs. Where plain "
        f"nbval passes, those cells depend on timing: tag them nbval-ignore-output (the claim still computed and "
        f"shown) or give the claim a margin wider than 25x; where it fails too, the chapter needs re-executing."
        f"\n{result.stdout[-6000:]}"
    )
