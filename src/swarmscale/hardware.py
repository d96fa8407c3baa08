"""Hardware a job runs on: one chip kind in a two-level network (scale-up domain, scale-out NICs).

Bandwidths here are per chip and per direction, in bytes/s: the catalog quotes scale-up links
with both directions added (NVLink "900 GB/s"), so that figure is halved once, here. A chip
whose NIC rate is unknown can still run anything that stays inside one scale-up domain.
"""

from __future__ import annotations

from dataclasses import dataclass

from swarmscale.catalog import Assumptions, Catalog, Chip, Efficiency, System, UnknownValueError


@dataclass(frozen=True)
class Cluster:
    """`count` chips of one kind, grouped into scale-up domains of `domain_size` chips."""

    chip: Chip
    count: int
    domain_size: int
    scale_up_bw: float
    scale_out_bw: float | None
    efficiency: Efficiency
    assumptions: Assumptions
    system: System | None = None
    purchase_price_usd: float | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"a cluster needs at least one chip, got {self.count}")
        for name in ("domain_size", "scale_up_bw", "scale_out_bw"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")

    @property
    def it_power_per_chip_w(self) -> float:
        """IT power per chip at training load: chip, host, NICs and switches, before PUE.

        A system's measured unit power, shared over its chips, wins; otherwise the chip's TDP
        plus the catalog's host overhead. Either way scaled by the average chip load.
        """
        load = self.assumptions.chip_load.require()
        if self.system is not None and self.system.power_per_unit.value is not None:
            return load * self.system.power_per_unit.value / self.system.chips_per_unit
        return load * self.chip.tdp.require() * (1.0 + self.assumptions.host_overhead.require())

    @property
    def cost_basis(self) -> str | None:
        """'purchase' (amortised price, energy paid apart), 'rent' (energy included) or None."""
        if self.purchase_price_usd is not None:
            return "purchase"
        if self.chip.rent is not None and self.chip.rent.value is not None:
            return "rent"
        return None

    @property
    def price_per_chip_hour_usd(self) -> float | None:
        """Purchase price spread over its service life, else the rental price per hour."""
        if self.purchase_price_usd is not None:
            hours = self.assumptions.amortisation.require() / 3600.0
            return self.purchase_price_usd / hours
        if self.chip.rent is not None:
            return self.chip.rent.value
        return None


def _known(value: float | None, what: str, chip_id: str) -> float:
    if value is None:
        raise UnknownValueError(f"{chip_id}: {what} is unknown in the catalog; give it explicitly")
    return value


def build_cluster(
    catalog: Catalog,
    chip_id: str,
    count: int,
    system_id: str | None = None,
    efficiency: Efficiency | None = None,
) -> Cluster:
    """A cluster from catalog ids; a system (e.g. gb200-nvl72) overrides the chip's domain."""
    chip = catalog.chip(chip_id)
    system = catalog.system(system_id) if system_id else None
    if system is not None and system.chip != chip.id:
        raise ValueError(f"system {system.id} holds {system.chip}, not {chip.id}")
    if system is not None:
        domain = system.chips_per_unit
        up_bidir = system.scale_up_bandwidth_per_chip.value
        out = system.scale_out_bandwidth_per_chip.value
    else:
        domain = int(_known(chip.scale_up_domain.value, "scale_up_domain", chip.id))
        up_bidir = chip.scale_up_bandwidth.value
        out = chip.scale_out_bandwidth.value
    return Cluster(
        chip=chip,
        count=count,
        domain_size=max(1, min(domain, count)),
        scale_up_bw=_known(up_bidir, "scale-up bandwidth", chip.id) / 2,
        scale_out_bw=out,
        efficiency=efficiency or catalog.efficiency_for(chip),
        assumptions=catalog.assumptions,
        system=system,
        purchase_price_usd=purchase_price(catalog, chip),
    )


def purchase_price(catalog: Catalog, chip: Chip) -> float | None:
    """The chip's catalog price, else its most recent dated purchase observation."""
    if chip.price.value is not None:
        return chip.price.value
    facts = sorted(
        (
            fact
            for fact in catalog.prices
            if fact.chip == chip.id and fact.what == "purchase" and fact.price.value is not None
        ),
        key=lambda fact: fact.date,
    )
    return facts[-1].price.value if facts else None
