"""Splitting a batch across threads: the parts cover the rows, results keep their order, and
the BLAS thread count is restored, also when a part raises."""

import threading

import pytest

import profondo
from profondo.backend import threads


def _blas():
    """NumPy's OpenBLAS thread setting, driven directly (skips elsewhere)."""
    from profondo.backend import threads

    blas = threads._blas_controller()
    if not blas:
        pytest.skip("needs threadpoolctl and NumPy on OpenBLAS")
    return blas


def test_row_split_one_part_per_blas_thread():
    blas = _blas()
    before = blas.get_num_threads()
    try:
        blas.set_num_threads(3)
        assert threads.row_split(20, min_rows=4) == [slice(0, 6), slice(6, 13), slice(13, 20)]
        assert threads.row_split(20) == [slice(0, 10), slice(10, 20)]  # at least 8 rows each
        assert threads.row_split(15) == [slice(0, 15)]
        blas.set_num_threads(1)
        assert threads.row_split(64) == [slice(0, 64)]
    finally:
        blas.set_num_threads(before)


def test_run_split_runs_parts_on_threads_with_one_blas_thread_each():
    blas = _blas()
    before = blas.get_num_threads()
    seen = []

    def work(part):
        seen.append((threading.current_thread().name, threads._blas_controller().get_num_threads()))
        return part * 10

    try:
        blas.set_num_threads(2)
        assert threads.run_split(work, [1, 2, 3]) == [10, 20, 30]
        assert {blas for _, blas in seen} == {1}
        assert any(name.startswith("profondo-rows") for name, _ in seen)
        assert profondo.get_num_threads() == 2
        seen.clear()
        assert threads.run_split(work, [4]) == [40]  # one part: here, the BLAS left alone
        assert seen == [(threading.current_thread().name, 2)]
    finally:
        blas.set_num_threads(before)


def test_run_split_restores_the_blas_when_a_part_raises():
    blas = _blas()
    before = blas.get_num_threads()

    def work(part):
        if part == 2:
            raise ValueError("part 2 failed")
        return part

    try:
        blas.set_num_threads(2)
        with pytest.raises(ValueError, match="part 2 failed"):
            threads.run_split(work, [1, 2])
        assert profondo.get_num_threads() == 2
        assert threads.run_split(work, [1, 3]) == [1, 3]  # the lock was released
    finally:
        blas.set_num_threads(before)


def test_nested_split_runs_serially():
    blas = _blas()
    before = blas.get_num_threads()
    try:
        blas.set_num_threads(2)
        inner = threads.run_split(lambda p: threads.run_split(lambda q: (p, q), [0, 1]), [0, 1])
        assert inner == [[(0, 0), (0, 1)], [(1, 0), (1, 1)]]
    finally:
        blas.set_num_threads(before)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_splits_on_threads_of_its_own():
    import os

    blas = _blas()
    before = blas.get_num_threads()
    try:
        blas.set_num_threads(2)
        assert threads.run_split(lambda p: p, [1, 2]) == [1, 2]  # the parent's pool now exists
        pid = os.fork()
        if pid == 0:  # the child: an inherited pool would never run the second part
            ok = threads.run_split(lambda p: p + 1, [1, 2]) == [2, 3]
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        blas.set_num_threads(before)
