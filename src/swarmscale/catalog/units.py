"""Units accepted in catalog files and their factors to the one internal unit per quantity.

Catalog YAML states numbers the way vendors print them (TFLOPS, GB, TB/s, Gb/s); everything
below the catalog works in SI base units (FLOP/s, bytes, bytes/s, watts) so no formula ever
converts. Money stays in US dollars, rental in dollars per hour, the field's own convention.
"""

from __future__ import annotations

from typing import Final

DIMENSIONS: Final[dict[str, dict[str, float]]] = {
    "flops": {
        "FLOPS": 1.0,
        "GFLOPS": 1e9,
        "TFLOPS": 1e12,
        "PFLOPS": 1e15,
        "TOPS": 1e12,
        "POPS": 1e15,
    },
    "bytes": {
        "B": 1.0,
        "KB": 1e3,
        "MB": 1e6,
        "GB": 1e9,
        "TB": 1e12,
        "KiB": 2.0**10,
        "MiB": 2.0**20,
        "GiB": 2.0**30,
        "TiB": 2.0**40,
    },
    "bandwidth": {
        "B/s": 1.0,
        "GB/s": 1e9,
        "TB/s": 1e12,
        "Gb/s": 1e9 / 8,
        "Tb/s": 1e12 / 8,
    },
    "power": {"W": 1.0, "kW": 1e3, "MW": 1e6},
    "money": {"USD": 1.0},
    "money_rate": {"USD/h": 1.0},
    "count": {"count": 1.0},
    "length": {"nm": 1.0},
    "fraction": {"fraction": 1.0, "%": 0.01},
    "ratio": {"ratio": 1.0},
    "rate": {"per_hour": 1.0, "per_day": 1.0 / 24.0},
    "energy_price": {"USD/kWh": 1.0, "USD/MWh": 1e-3},
    "time": {
        "s": 1.0,
        "us": 1e-6,
        "ms": 1e-3,
        "min": 60.0,
        "h": 3600.0,
        "day": 86400.0,
        "year": 365.25 * 86400.0,
    },
}

CANONICAL_UNIT: Final[dict[str, str]] = {
    "flops": "FLOP/s",
    "bytes": "B",
    "bandwidth": "B/s",
    "power": "W",
    "money": "USD",
    "money_rate": "USD/h",
    "count": "count",
    "length": "nm",
    "time": "s",
    "fraction": "fraction",
    "ratio": "ratio",
    "rate": "per_hour",
    "energy_price": "USD/kWh",
}


def to_si(value: float, unit: str, dimension: str) -> float:
    """Convert `value` given in `unit` to the internal unit of `dimension`."""
    factors = DIMENSIONS[dimension]
    if unit not in factors:
        allowed = ", ".join(factors)
        raise ValueError(f"unknown unit {unit!r} for a {dimension} value; allowed: {allowed}")
    return value * factors[unit]


def from_si(value: float, unit: str, dimension: str) -> float:
    """Inverse of `to_si`: express an internal value in a display unit."""
    return value / DIMENSIONS[dimension][unit]
