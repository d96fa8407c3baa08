"""The catalog: sourced chips, systems, models and dated facts, read only through this package."""

from swarmscale.catalog.loader import (
    Catalog,
    CatalogError,
    UnknownIdError,
    default_catalog,
    load_catalog,
)
from swarmscale.catalog.schemas import (
    PRECISIONS,
    Assumptions,
    Chip,
    Efficiency,
    ExportControl,
    Model,
    Network,
    Policy,
    Precision,
    PriceFact,
    Quantity,
    System,
    UnknownValueError,
)

__all__ = [
    "PRECISIONS",
    "Assumptions",
    "Catalog",
    "CatalogError",
    "Chip",
    "Efficiency",
    "ExportControl",
    "Model",
    "Network",
    "Policy",
    "Precision",
    "PriceFact",
    "Quantity",
    "System",
    "UnknownIdError",
    "UnknownValueError",
    "default_catalog",
    "load_catalog",
]
