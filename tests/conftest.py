"""Shared by the test modules."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Tiny models gain nothing from threads, and on a busy machine torch's thread pool waits
    for cores held by other processes: one thread keeps the tests fast (as `make test`'s
    OMP_NUM_THREADS=1 does). Restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
