"""Device profiles in and out: build one from measurements, write it, import a microbenchmark.

A profile file has the catalog's shape (`profiles:` holding one entry) so the same loader reads
a user's file, a shipped one in `catalog/data/profiles/`, and a file named by `--profile`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from swarmscale.calibrate.derive import BYTES_PER_ELEMENT, Derivation, derive_efficiency
from swarmscale.catalog import Catalog, CatalogError, Chip
from swarmscale.catalog.loader import DATA_ROOT, MAX_YAML_BYTES
from swarmscale.catalog.schemas import DeviceProfile, Measurement
from swarmscale.files import read_text, write_text_atomic

CEILING_GEMM = re.compile(r"^(bf16|fp16|fp8)_gemm_(\d+)_TFLOPs$")
CEILING_COPY = "d2d_copy_GBps"
MICROBENCH_PARTS = ("env", "ceilings", "gemm")
# A row's published rate must agree with its own time and shape this closely.
RATE_TOLERANCE = 0.01


@dataclass(frozen=True)
class DeviceRun:
    """What one measuring session produced, before it becomes a profile."""

    device_name: str
    software: dict[str, str]
    measurements: list[Measurement]
    source: str
    measured_on: str | None


def chip_for_device(catalog: Catalog, device_name: str) -> Chip:
    """The catalog chip a driver's device name denotes, e.g. "NVIDIA H100 80GB HBM3"."""
    tokens = set(device_name.upper().replace("-", " ").split())
    candidates = [
        chip
        for chip in catalog.chips.values()
        if chip.vendor.upper() in tokens
        and chip.name.upper().split()[1] in tokens
        and all((form in tokens) == (form in chip.name.upper()) for form in ("PCIE", "NVL"))
    ]
    sizes = {int(match) for match in re.findall(r"\b(\d+)GB\b", device_name.upper())}
    if sizes and len(candidates) > 1:  # memory variants of one die: the size tells them apart
        candidates = [c for c in candidates if round((c.memory.value or 0) / 1e9) in sizes]
    if len(candidates) != 1:
        named = ", ".join(chip.id for chip in candidates) or "none"
        raise CatalogError(
            f"device {device_name!r} matches {named} of the catalog's chips; "
            "name the chip with --chip"
        )
    return candidates[0]


def build_profile(catalog: Catalog, chip: Chip, run: DeviceRun) -> tuple[DeviceProfile, Derivation]:
    """Derive the efficiencies `run` determines and wrap them with their raw data."""
    prior = catalog.without_profiles().efficiency_for(chip)
    derivation = derive_efficiency(chip, run.measurements, prior, run.source)
    today = dt.date.today().isoformat()
    slug = re.sub(r"[^a-z0-9]+", "-", run.device_name.lower()).strip("-")
    profile = DeviceProfile(
        id=f"{chip.id}-{slug}-{(run.measured_on or today)}"[:80].rstrip("-"),
        chip=chip.id,
        device_name=run.device_name,
        measured_on=run.measured_on,
        created_on=today,
        software=run.software,
        source=run.source,
        efficiency=derivation.efficiency,
        measurements=tuple(run.measurements),
        notes="; ".join(
            f"{fit.family}: {fit.count} shapes, median error {100 * fit.median_abs_error:.1f}%,"
            f" max {100 * fit.max_abs_error:.1f}%"
            for fit in derivation.fits
        )
        or None,
    )
    return profile, derivation


def write_records(path: Path, key: str, records: Sequence[BaseModel]) -> None:
    """Records under `key`, in the layout the catalog loader reads (defaults left out), written
    atomically: a reader never sees half a file."""
    documents = [
        r.model_dump(mode="json", exclude_none=True, exclude_defaults=True) for r in records
    ]
    write_text_atomic(path, yaml.safe_dump({key: documents}, sort_keys=False, width=100))


def write_profile(profile: DeviceProfile, path: Path) -> None:
    write_records(path, "profiles", [profile])


def _gemm(dtype: str, m: int, k: int, n: int, seconds: float) -> Measurement:
    return Measurement(
        part="gemm",
        dtype=dtype,
        shape={"m": m, "k": k, "n": n},
        seconds=seconds,
        flops=2.0 * m * k * n,
        bytes=BYTES_PER_ELEMENT[dtype] * (m * k + k * n + m * n),
    )


def _microbench_row(row: dict[str, Any], where: str) -> Measurement | None:
    part = row.get("part")
    if part not in MICROBENCH_PARTS:
        raise CatalogError(
            f"{where}: field 'part': {part!r}; allowed: {', '.join(MICROBENCH_PARTS)}"
        )
    if part == "env":
        return None
    try:
        if part == "gemm":
            measurement = _gemm("bf16", int(row["M"]), int(row["K"]), int(row["N"]),
                                float(row["seconds"]))  # fmt: skip
            published = float(row["TFLOPs"]) * 1e12
            if abs((measurement.flops_per_s or 0.0) / published - 1) > RATE_TOLERANCE:
                raise CatalogError(f"{where}: field 'TFLOPs' disagrees with M, K, N and seconds")
            return measurement
        what, value = str(row["what"]), float(row["value"])
    except KeyError as exc:
        raise CatalogError(f"{where}: field {exc.args[0]!r} is missing") from exc
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"{where}: {exc}") from exc
    if what == CEILING_COPY:
        return Measurement(part="copy", bytes_per_s=value * 1e9)
    match = CEILING_GEMM.match(what)
    if match is None:
        raise CatalogError(
            f"{where}: field 'what': {what!r}; allowed: {CEILING_COPY} or <dtype>_gemm_<n>_TFLOPs"
        )
    size = int(match.group(2))
    return _gemm(match.group(1), size, size, size, 2.0 * size**3 / (value * 1e12))


def _display(path: Path) -> str:
    """Files shipped in the catalog are named the way catalog sources name them."""
    package = DATA_ROOT.parent.parent
    resolved = path.resolve()
    return str(resolved.relative_to(package)) if resolved.is_relative_to(package) else str(path)


def import_microbench(path: Path) -> DeviceRun:
    """Read a JSON-lines microbenchmark (env, ceilings and gemm rows, as in shared/reference)."""
    lines = read_text(path, MAX_YAML_BYTES, CatalogError).splitlines()
    measurements: list[Measurement] = []
    devices: set[str] = set()
    software: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except RecursionError:
            raise CatalogError(f"{where}: JSON nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise CatalogError(f"{where}: not valid JSON: {exc.msg}") from exc
        if not isinstance(row, dict):
            raise CatalogError(f"{where}: expected a JSON object")
        if "device_name" in row:
            devices.add(str(row["device_name"]))
        if row.get("part") == "env":
            software.update({key: str(row[key]) for key in ("torch", "cuda") if key in row})
        measurement = _microbench_row(row, where)
        if measurement is not None:
            measurements.append(measurement)
    if len(devices) != 1:
        raise CatalogError(
            f"{path}: field 'device_name': expected one device, found {sorted(devices)}"
        )
    if not measurements:
        raise CatalogError(f"{path}: no measurements (rows with part 'ceilings' or 'gemm')")
    return DeviceRun(
        device_name=devices.pop(),
        software=software,
        measurements=measurements,
        source=f"{_display(path)} imported by `swarmscale calibrate --import`",
        measured_on=None,
    )
