"""Networks for simulation: catalog ones, user files, and seeded synthetic ones for scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from swarmscale.catalog import Catalog, Network
from swarmscale.catalog.loader import load_network
from swarmscale.limits import MAX_SITES


def resolve_network(catalog: Catalog, name: str) -> Network:
    """A catalog network id, a YAML file holding one network, or `synthetic-N` (N sites)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return load_network(path, catalog)
    if name.startswith("synthetic-") and name.removeprefix("synthetic-").isdigit():
        sites = int(name.removeprefix("synthetic-"))
        if not 1 <= sites <= MAX_SITES:
            raise ValueError(f"network {name}: synthetic-N takes N from 1 to {MAX_SITES:,}")
        return synthetic_network(catalog, sites)
    return catalog.network(name)


def synthetic_network(catalog: Catalog, sites: int, seed: int = 0) -> Network:
    """`sites` sites copied from the eight China hubs with seeded changes of size (x0.25 to
    x2), power price and carbon (x0.8 to x1.2): a large network for benchmarks."""
    base = catalog.network("china-8-hubs")
    rng = np.random.default_rng(seed)
    made = []
    for index in range(sites):
        template = base.sites[index % len(base.sites)]
        scale = float(rng.uniform(0.25, 2.0))
        price = template.power_price_usd_per_kwh
        factor = float(rng.uniform(0.8, 1.2))
        prices = tuple(p * factor for p in price) if isinstance(price, tuple) else price * factor
        made.append(
            template.model_copy(
                update={
                    "id": f"{template.id}-{index}",
                    "inventory": {
                        chip: max(8, int(count * scale) // 8 * 8)
                        for chip, count in template.inventory.items()
                    },
                    "power_price_usd_per_kwh": prices,
                    "carbon_g_per_kwh": template.carbon_g_per_kwh * float(rng.uniform(0.8, 1.2)),
                }
            )
        )
    return base.model_copy(
        update={
            "id": f"synthetic-{sites}",
            "sites": tuple(made),
            "links": (),
            "name": f"{sites} synthetic sites",
            "source": f"seeded copies of {base.id} (seed {seed})",
        }
    )
