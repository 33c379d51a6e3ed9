"""theory.fast.memory: large arrays on ordinary pages behave as np.empty arrays."""

import mmap
import sys

import numpy as np
import pytest
from numpy._core.multiarray import _get_madvise_hugepage

from theory.fast.memory import HUGE_PAGE_THRESHOLD, Workspace, block, empty_small_pages


def _vm_flags(array: np.ndarray) -> set[str] | None:
    """The ``VmFlags`` of the mapping that holds the middle of ``array`` (Linux), else None
    (numpy advises huge pages from the first page boundary inside an array on). ``nh``: no huge
    pages advised (MADV_NOHUGEPAGE); ``hg``: huge pages advised (MADV_HUGEPAGE)."""
    address = array.__array_interface__["data"][0] + array.nbytes // 2
    try:
        with open("/proc/self/smaps") as smaps:
            lines = smaps.read().splitlines()
    except OSError:
        return None
    inside = False
    for line in lines:
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            low, high = (int(bound, 16) for bound in head.split("-"))
            inside = low <= address < high
        elif inside and head == "VmFlags:":
            return set(line.split()[1:])
    return None


def test_large_array_is_a_writable_c_ordered_array_of_the_shape_and_dtype():
    a = empty_small_pages((1024, 1024 + 7))
    assert a.shape == (1024, 1031) and a.dtype == np.float64
    assert a.flags.c_contiguous and a.flags.writeable
    a[...] = np.arange(a.size).reshape(a.shape)
    assert a[3, 5] == 3 * 1031 + 5 and a.sum() == a.size * (a.size - 1) / 2
    masks = empty_small_pages((5000, 1000), dtype=bool)
    assert masks.dtype == np.bool_ and masks.nbytes >= HUGE_PAGE_THRESHOLD
    np.greater(np.ones((5000, 1000)), 0.0, out=masks)
    assert masks.all()


@pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(mmap, "MADV_NOHUGEPAGE"),
                    reason="MADV_NOHUGEPAGE is Linux-only")
def test_large_array_is_advised_against_huge_pages_while_np_empty_is_not():
    ours = empty_small_pages((1 << 20,))              # 8 MiB
    ours[:] = 1.0
    flags = _vm_flags(ours)
    if flags is None:
        pytest.skip("/proc/self/smaps is not readable")
    assert "nh" in flags and "hg" not in flags
    if _get_madvise_hugepage():                        # numpy advises huge pages here
        theirs = np.empty(1 << 22)                     # 32 MiB
        theirs[:] = 1.0
        assert "hg" in _vm_flags(theirs) and "nh" not in _vm_flags(theirs)


def test_small_array_list_shape_and_bad_shape():
    small = empty_small_pages(10)
    assert small.shape == (10,) and small.dtype == np.float64
    assert empty_small_pages([1024, 1024]).shape == (1024, 1024)   # 8 MiB, as np.empty([..])
    with pytest.raises(ValueError, match="shape"):
        empty_small_pages((3, -1))
    with pytest.raises(TypeError, match="shape"):
        empty_small_pages((3, 2.5))


@pytest.mark.parametrize("order", ["C", "F"])
def test_block_is_a_contiguous_view_of_the_work_space(order):
    flat = np.arange(40.0)
    view = block(flat, 5, 3, 4, order=order)
    assert view.shape == (3, 4) and np.shares_memory(view, flat)
    assert view.flags.c_contiguous if order == "C" else view.flags.f_contiguous
    np.testing.assert_array_equal(view, flat[5:17].reshape((3, 4), order=order))
    with pytest.raises(ValueError, match="too few"):
        block(flat, 30, 3, 4)


def test_workspace_reuses_a_buffer_that_fits_and_grows_one_that_does_not():
    ws = Workspace()
    a = ws.take("batch", (100, 50))
    assert a.shape == (100, 50) and a.dtype == np.float64 and a.flags.c_contiguous
    a[:] = 1.0
    smaller = ws.take("batch", (30, 7))
    assert smaller.shape == (30, 7) and np.shares_memory(smaller, a)      # the same pages
    larger = ws.take("batch", (200, 50))
    assert larger.shape == (200, 50) and not np.shares_memory(larger, a)  # a new buffer
    assert ws.nbytes == 200 * 50 * 8


def test_workspace_names_and_dtypes_never_share_memory():
    ws = Workspace()
    x, y = ws.take("x", 1000), ws.take("y", 1000)
    masks = ws.take("x", (10, 10), bool)
    assert masks.dtype == bool
    assert not np.shares_memory(x, y) and not np.shares_memory(x, masks)
    assert ws.nbytes == 2 * 1000 * 8 + 100


def test_workspace_rejects_bad_input():
    ws = Workspace()
    with pytest.raises(TypeError, match="name"):
        ws.take("", 3)
    with pytest.raises(TypeError, match="name"):
        ws.take(3, 3)
    with pytest.raises(ValueError, match="shape"):
        ws.take("x", (3, -1))
