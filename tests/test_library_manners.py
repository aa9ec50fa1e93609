"""Importing profondo changes nothing process-wide; threads and heap tuning are explicit calls."""

import subprocess
import sys

import pytest

import profondo
from profondo import backend


def _run(code: str) -> str:
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_leaves_malloc_settings_alone():
    out = _run("import profondo, profondo.nn, profondo.optim, profondo.data\n"
               "from profondo.backend import memory\n"
               "print(memory.freed_memory_kept())\n"
               "print(memory.keep_freed_memory(), memory.keep_freed_memory(), memory.freed_memory_kept())")
    assert out.splitlines() == ["False", "True True True"] or sys.platform != "linux"


def test_keep_freed_memory_opt_out():
    out = _run("import os; os.environ['PROFONDO_MALLOC_DEFAULTS'] = '1'\n"
               "from profondo.backend import memory\n"
               "print(memory.keep_freed_memory(), memory.freed_memory_kept())")
    assert out == "False False"


def test_set_and_get_num_threads():
    pytest.importorskip("threadpoolctl")
    before = profondo.get_num_threads()
    try:
        profondo.set_num_threads(1)
        assert profondo.get_num_threads() == 1
        with backend.blas_threads(1):
            assert profondo.get_num_threads() == 1
    finally:
        profondo.set_num_threads(before)
    assert profondo.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match=rf"set_num_threads expected a thread count, an integer >= 1, received {bad!r}"):
        profondo.set_num_threads(bad)
