"""The measurement suite on the CPU build of PyTorch, and with a fake timer.

No GPU here: these tests check that every family of work runs, is timed the way the docstrings
say (warm-up, repeats, median), reports the work it did, and fails clearly without a device."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from functools import partial

import pytest

from swarmscale.calibrate.measure import (
    Bench,
    CalibrationUnavailable,
    GptShape,
    Suite,
    import_torch,
    measure_gemm,
    measure_launch,
    open_bench,
    run_suite,
    summarize,
    wall_timer,
)
from swarmscale.catalog.schemas import Measurement

torch = pytest.importorskip("torch")

TINY = GptShape(layers=2, d_model=64, heads=4, vocab=128)
TINY_SUITE = Suite(
    copy_mib=(1, 4),
    gemm_sizes=((1, 64, 64), (64, 64, 64)),
    attention=((1, 2, 32, 32, 16), (2, 2, 1, 64, 16)),
    train=((TINY, 2, 32),),
    decode=((TINY, 1, 16), (TINY, 4, 16)),
    prefill=((TINY, 32),),
    warmup=1,
    repeats=3,
)


class FakeTimer:
    """Calls the work once per warm-up and repeat, and returns fixed timings."""

    def __init__(self, seconds: list[float]) -> None:
        self.seconds, self.calls = seconds, 0

    def __call__(self, run: Callable[[], object], warmup: int, repeats: int) -> list[float]:
        for _ in range(warmup + repeats):
            run()
            self.calls += 1
        return self.seconds[:repeats]


def test_summary_is_the_median_and_the_p10_p90_spread() -> None:
    median, spread = summarize([3.0, 1.0, 2.0, 10.0, 2.0])
    assert median == 2.0
    assert spread == pytest.approx((10.0 - 1.0) / 2.0)


@pytest.mark.parametrize("samples", [[], [0.0, 1.0], [-1.0]])
def test_zero_or_missing_timings_are_refused(samples: list[float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        summarize(samples)


def test_fake_timer_gives_the_median_and_runs_every_warmup_and_repeat() -> None:
    timer = FakeTimer([4e-3, 1e-3, 2e-3])
    bench = Bench(torch, "cpu", timer, warmup=2, repeats=3)
    (row,) = measure_gemm(bench, 8, 16, 32)
    assert row.seconds == 2e-3
    assert timer.calls == 5
    assert row.flops == 2 * 8 * 16 * 32
    assert row.bytes == 2 * (8 * 16 + 16 * 32 + 8 * 32)


def test_launch_cost_is_per_kernel() -> None:
    bench = Bench(torch, "cpu", FakeTimer([0.02]), warmup=0, repeats=1)
    (row,) = measure_launch(bench, kernels=200)
    assert row.seconds == pytest.approx(1e-4)


def test_every_family_runs_on_the_cpu() -> None:
    bench = Bench(torch, "cpu", wall_timer, TINY_SUITE.warmup, TINY_SUITE.repeats)
    seen: list[tuple[str, int, int]] = []
    result = run_suite(
        bench, TINY_SUITE, lambda name, done, total: seen.append((name, done, total))
    )
    steps = 1 + 2 + 2 + 2 + 1 + 2 + 1  # launch, then each size of every family
    assert [(done, total) for _, done, total in seen] == [(i, steps) for i in range(steps)]
    assert result.skipped == []
    rows: list[Measurement] = result.measurements
    parts = [row.part for row in rows]
    for part, count in (("launch", 1), ("copy", 2), ("gemm", 2), ("attention", 2),
                        ("train_step", 1), ("decode_step", 2), ("prefill", 1)):  # fmt: skip
        assert parts.count(part) == count, part
    for row in rows:
        assert row.seconds is not None and math.isfinite(row.seconds) and row.seconds > 0
        assert row.repeats == TINY_SUITE.repeats
    (train,) = (row for row in rows if row.part == "train_step")
    assert train.shape == {**TINY.as_shape(), "batch": 2, "seq": 32}
    (causal,) = (row for row in rows if row.part == "attention" and row.shape["seq_q"] == 32)
    assert causal.shape["causal"] == 1
    assert causal.flops == 4 * 1 * 2 * (32 * 32 / 2) * 16


def test_a_size_that_does_not_fit_is_skipped_and_named() -> None:
    """A GPU with less memory still calibrates: the sizes it cannot hold are reported."""

    def timer(run: Callable[[], object], warmup: int, repeats: int) -> list[float]:
        """Fails the 64-row GEMM as a full GPU would; every other run takes 1 ms."""
        if isinstance(run, partial) and run.func is torch.matmul and run.args[0].shape[0] == 64:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return [1e-3] * repeats

    bench = Bench(torch, "cpu", timer, warmup=0, repeats=2)
    result = run_suite(bench, TINY_SUITE, lambda name, done, total: None)
    assert result.skipped == ["GEMM 64x64x64"]
    gemms = [row.shape["m"] for row in result.measurements if row.part == "gemm"]
    assert gemms == [1]


def test_no_gpu_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(CalibrationUnavailable, match="no CUDA device"):
        open_bench("cuda", TINY_SUITE)


def test_no_torch_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(CalibrationUnavailable, match=r"swarmscale\[calibrate\]"):
        import_torch()
