"""Sweep workers on GPUs: memory growth always, one GPU each when there are several, nothing without a GPU."""

from __future__ import annotations

import os

import pytest

from fashiongan.devices import GROWTH_ENV, VISIBLE_ENV, visible_gpus, worker_env
from fashiongan.environ import environment


def test_each_worker_gets_memory_growth_and_its_own_gpu_round_robin() -> None:
    assert worker_env(0, []) == {}  # CPU only: nothing changes
    assert worker_env(1, ["0"]) == {GROWTH_ENV: "true"}  # one GPU: shared, each worker grows its share
    assert [worker_env(i, ["2", "5"])[VISIBLE_ENV] for i in range(3)] == ["2", "5", "2"]


def test_visible_gpus_respect_the_users_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VISIBLE_ENV, "1, 3")
    assert visible_gpus() == ["1", "3"]
    monkeypatch.setenv(VISIBLE_ENV, "-1")
    assert visible_gpus() == []


def test_environment_is_restored_after_the_child_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VISIBLE_ENV, raising=False)
    monkeypatch.setenv(GROWTH_ENV, "false")
    with environment({VISIBLE_ENV: "1", GROWTH_ENV: "true"}):
        assert os.environ[VISIBLE_ENV] == "1" and os.environ[GROWTH_ENV] == "true"
    assert VISIBLE_ENV not in os.environ and os.environ[GROWTH_ENV] == "false"
