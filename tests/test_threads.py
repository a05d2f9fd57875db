"""vaelab.train.train's thread policy: the loop runs under the policy's torch thread count, and the
caller's setting is back afterwards (benchmarks/threads.py measured why one thread)."""

from __future__ import annotations

import pytest
import torch

from vaelab.models import VAE
from vaelab.train import train, training_threads


def _threads_seen(monkeypatch, env: str | None, **kwargs) -> tuple[set[int], int]:
    """Train 3 steps; the thread counts seen inside the loss, and the count after training."""
    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    seen = set()

    def loss_fn(model, x):
        seen.add(torch.get_num_threads())
        m, v = model.encode(x)
        return (m**2).mean() + v.mean(), {}

    model = VAE(z_dim=2, x_dim=4, hidden=3)
    x = torch.rand(5, 4)
    train(model, loss_fn, [x], steps=3, progress=False, device="cpu", **kwargs)
    return seen, torch.get_num_threads()


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_one_thread_by_default_and_restored(monkeypatch, two_threads):
    seen, after = _threads_seen(monkeypatch, env=None)
    assert seen == {1} and after == 2


def test_an_empty_omp_num_threads_counts_as_unset(monkeypatch, two_threads):
    seen, after = _threads_seen(monkeypatch, env="")
    assert seen == {1} and after == 2


def test_the_users_omp_num_threads_is_left_alone(monkeypatch, two_threads):
    seen, after = _threads_seen(monkeypatch, env="2")
    assert seen == {2} and after == 2


def test_explicit_threads(monkeypatch, two_threads):
    torch.set_num_threads(1)
    seen, after = _threads_seen(monkeypatch, env=None, threads=2)
    assert seen == {2} and after == 1


def test_restored_after_an_error(monkeypatch, two_threads):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)

    def broken(model, x):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        train(VAE(z_dim=2, x_dim=4, hidden=3), broken, [torch.rand(2, 4)], steps=2, progress=False, device="cpu")
    assert torch.get_num_threads() == 2


def test_policy_values(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert training_threads(torch.device("cpu")) == 1
    assert training_threads(torch.device("cpu"), 3) == 3
    assert training_threads(torch.device("meta")) is None  # not a CPU: left alone
    with pytest.raises(ValueError, match="threads"):
        training_threads(torch.device("cpu"), 0)
