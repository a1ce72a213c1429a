"""Sweep workers on GPUs (memory growth always, one GPU each when there are several, nothing without a GPU); bfloat16 support."""

from __future__ import annotations

import os

import pytest

from fashiongan.devices import GROWTH_ENV, VISIBLE_ENV, bfloat16_native, visible_gpus, worker_env
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


def test_bfloat16_is_native_on_a_gpu_or_with_avx512_bf16_or_amx_and_the_missing_instruction_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("fashiongan.keras_backend.has_gpu", lambda: False)
    cpuinfo = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor @ 2.00GHz\nflags\t\t: fpu avx2 avx512f avx512bw\n"
    assert bfloat16_native(cpuinfo) == (
        False, "this CPU (Intel(R) Xeon(R) Processor @ 2.00GHz) lacks avx512_bf16 and amx_bf16 and no GPU is visible"
    )  # fmt: skip
    assert bfloat16_native(cpuinfo.replace("avx512bw", "avx512bw avx512_bf16"))[0]
    assert bfloat16_native(cpuinfo.replace("avx512bw", "amx_bf16 amx_tile")) == (
        True, "this CPU (Intel(R) Xeon(R) Processor @ 2.00GHz) has amx_bf16"
    )  # fmt: skip
    monkeypatch.setattr("fashiongan.keras_backend.has_gpu", lambda: True)
    assert bfloat16_native(cpuinfo) == (True, "a GPU computes bfloat16")
