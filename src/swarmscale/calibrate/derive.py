"""Efficiency factors from raw device measurements.

Each factor is derived from the kernel family it describes, so a profile says exactly what was
measured and what was not. GEMM factors are fitted through the same roofline blend the
predictions use (`perf.compute.gemm_time`): a factor read off one large GEMM would be right for
that shape and wrong for the skinny decode GEMMs next to it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from swarmscale.catalog.schemas import Chip, Efficiency, EfficiencyEntry, Measurement, Quantity
from swarmscale.perf.compute import (
    ATTENTION_FULL_HEAD_DIM,
    FloatArray,
    GemmRates,
    attention_share,
    gemm_time,
)

BYTES_PER_ELEMENT = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0}
PEAK_PRECISION = {"fp32": "fp32", "bf16": "bf16", "fp16": "bf16", "fp8": "fp8"}
# Copies this much smaller than the largest one are dominated by launch cost, not bandwidth.
SMALL_COPY_FRACTION = 0.25


@dataclass(frozen=True)
class FamilyFit:
    """How well the fitted factors reproduce one family of measurements."""

    family: str
    count: int
    median_abs_error: float
    max_abs_error: float


@dataclass(frozen=True)
class Derivation:
    efficiency: EfficiencyEntry
    fits: tuple[FamilyFit, ...]


def _quantity(value: float, unit: str, source: str, spread: list[float]) -> Quantity:
    return Quantity(
        value=value,
        unit=unit,
        kind="measured",
        source=source,
        low=min([value, *spread]),
        high=max([value, *spread]),
    )


def _gemms(measurements: list[Measurement], dtypes: tuple[str, ...]) -> list[Measurement]:
    return [
        m
        for m in measurements
        if m.part == "gemm" and m.dtype in dtypes and m.seconds is not None
        and {"m", "k", "n"} <= m.shape.keys()
    ]  # fmt: skip


def _predict(rows: list[Measurement], chip: Chip, compute: float, memory: float,
             overhead: float) -> FloatArray:  # fmt: skip
    shapes = np.array([[r.shape["m"], r.shape["k"], r.shape["n"]] for r in rows], dtype=float)
    dtype = rows[0].dtype
    rates = GemmRates(
        flops_per_s=chip.peak_flops(PEAK_PRECISION[dtype]) * compute,  # type: ignore[arg-type]
        bytes_per_s=chip.memory_bandwidth.require() * memory,
        act_bytes=BYTES_PER_ELEMENT[dtype],
        weight_bytes=BYTES_PER_ELEMENT[dtype],
        overhead_s=overhead,
    )
    return gemm_time(shapes[:, 0], shapes[:, 1], shapes[:, 2], rates)


def _arithmetic_intensity(row: Measurement) -> float:
    m, k, n = (row.shape[key] for key in ("m", "k", "n"))
    return 2.0 * m * k * n / (BYTES_PER_ELEMENT[row.dtype] * (m * k + k * n + m * n))


def fit_gemm(
    rows: list[Measurement], chip: Chip, start: tuple[float, float], overhead: float
) -> tuple[float | None, float | None, FamilyFit]:
    """Compute and memory efficiency of one precision's GEMMs by least squares on log time.

    A factor is fitted only when some shapes are bound by it (arithmetic intensity on its side
    of the chip's ridge); otherwise it stays at its `start` value and `None` is returned."""
    dtype = rows[0].dtype
    peak = chip.peak_flops(PEAK_PRECISION[dtype])  # type: ignore[arg-type]
    ridge = peak / chip.memory_bandwidth.require()
    compute_bound = any(_arithmetic_intensity(r) > ridge for r in rows)
    memory_bound = any(_arithmetic_intensity(r) < ridge for r in rows)
    initial = np.array(start)
    free = np.array([compute_bound, memory_bound])
    measured = np.array([r.seconds for r in rows], dtype=float)

    def residuals(params: FloatArray) -> FloatArray:
        values = np.where(free, 0.0, initial)
        values[free] = params
        return np.asarray(np.log(_predict(rows, chip, values[0], values[1], overhead) / measured))

    # A compute factor above one would mean the wrong chip; a memory-bound GEMM may beat the
    # HBM datasheet from L2.
    upper = np.array([1.0, 1.5])[free]
    fitted = least_squares(residuals, np.minimum(initial[free], upper), bounds=(0.01, upper)).x
    values = initial.copy()
    values[free] = fitted
    errors = np.abs(_predict(rows, chip, values[0], values[1], overhead) / measured - 1.0)
    family = FamilyFit(f"gemm {dtype}", len(rows), float(np.median(errors)), float(errors.max()))
    return (
        float(values[0]) if compute_bound else None,
        float(values[1]) if memory_bound else None,
        family,
    )


def _implied(rows: list[Measurement], chip: Chip, side: str) -> list[float]:
    """Each shape's own efficiency on one side of the roofline, for the reported range."""
    bandwidth = chip.memory_bandwidth.require()
    out: list[float] = []
    for row in rows:
        peak = chip.peak_flops(PEAK_PRECISION[row.dtype])  # type: ignore[arg-type]
        if side == "compute" and _arithmetic_intensity(row) > peak / bandwidth:
            out.append((row.flops_per_s or 0.0) / peak)
        if side == "memory" and _arithmetic_intensity(row) < peak / bandwidth:
            out.append((row.bandwidth or 0.0) / bandwidth)
    return out


def derive_efficiency(
    chip: Chip, measurements: list[Measurement], prior: Efficiency, source: str
) -> Derivation:
    """Every factor the measurements determine, as a catalog layer for `chip`.

    `prior` supplies the factors a fit holds fixed (the memory side of a compute-only GEMM
    sweep, the launch overhead when none was timed); they are not written into the layer."""
    factors: dict[str, Quantity] = {}
    fits: list[FamilyFit] = []
    bandwidth = chip.memory_bandwidth.require()

    launches = [m.seconds for m in measurements if m.part == "launch" and m.seconds is not None]
    overhead = prior.kernel_overhead.require()
    if launches:
        overhead = statistics.median(launches)
        factors["kernel_overhead"] = _quantity(
            overhead, "s", f"{source}: median time of {len(launches)} back-to-back tiny kernels",
            launches,
        )  # fmt: skip

    copies = [m for m in measurements if m.part == "copy" and m.bandwidth is not None]
    if copies:
        largest = max(m.bytes or 0.0 for m in copies)
        big = [m for m in copies if (m.bytes or largest) >= SMALL_COPY_FRACTION * largest]
        rates = [float(m.bandwidth or 0.0) / bandwidth for m in copies]
        value = statistics.median(float(m.bandwidth or 0.0) / bandwidth for m in big)
        factors["memory"] = _quantity(
            value, "fraction",
            f"{source}: device-to-device copy {value * bandwidth / 1e9:,.0f} GB/s of "
            f"{bandwidth / 1e9:,.0f} GB/s datasheet (median of {len(big)} large copies)",
            rates,
        )  # fmt: skip

    # fp8 sweeps are often compute-bound only; they then borrow the bf16 sweep's memory side,
    # measured on the same device, before the prior's.
    memory_start = prior.gemm_memory.require()
    for dtypes, compute_name in ((("bf16", "fp16"), "gemm"), (("fp8",), "gemm_fp8")):
        rows = _gemms(measurements, dtypes)
        if not rows:
            continue
        compute_start = getattr(prior, compute_name).require()
        compute, memory, family = fit_gemm(rows, chip, (compute_start, memory_start), overhead)
        if memory is not None:
            memory_start = memory
        fits.append(family)
        note = (
            f"{source}: fitted through the roofline blend to {len(rows)} {dtypes[0]} GEMM "
            f"shapes (median error {100 * family.median_abs_error:.1f}%, max "
            f"{100 * family.max_abs_error:.1f}%); range = single shapes"
        )
        if compute is not None:
            factors[compute_name] = _quantity(
                compute, "fraction", note, _implied(rows, chip, "compute")
            )
        if memory is not None and compute_name == "gemm":
            factors["gemm_memory"] = _quantity(
                memory, "fraction", note, _implied(rows, chip, "memory")
            )

    attention = [
        m for m in measurements
        if m.part == "attention" and m.shape.get("seq_q", 0) > 1 and m.flops_per_s is not None
    ]  # fmt: skip
    if attention:
        peak = chip.peak_flops("bf16")
        shares = [
            float(m.flops_per_s or 0.0)
            / peak
            / float(
                attention_share(
                    m.shape["seq_kv"] / (2.0 if m.shape.get("causal", 1) else 1.0),
                    m.shape.get("head_dim", ATTENTION_FULL_HEAD_DIM),
                )
            )
            for m in attention
        ]
        factors["attention"] = _quantity(
            statistics.median(shares), "fraction",
            f"{source}: fused attention forward at {len(attention)} prefill shapes, "
            "median FLOP/s over bf16 peak, each over the share of the plateau its keys per "
            "query reach (perf.compute.attention_share)",
            shares,
        )  # fmt: skip
    return Derivation(EfficiencyEntry(applies_to=chip.id, **factors), tuple(fits))
