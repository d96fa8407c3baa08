"""Hard caps on what one request may ask for, shared by the catalog's file schemas, the api's
input models, the CLI's `--help` and the web API, so that every interface refuses the same
values. Each bounds what a request costs in memory or time, or what is physically sensible."""

from __future__ import annotations

MAX_CHIPS = 1_048_576  # 2^20: the million-chip swarm, and the fleet optimiser's largest curve
MAX_TOKENS = 1e15  # 64x Llama 3's 15.6T tokens
MAX_SEQ = 1_048_576
MAX_BATCH_TOKENS = 1e9
MAX_GLOBAL_BATCH = 100_000_000  # sequences (or concurrent requests) per step
MAX_RATE = 1e6  # requests per second
MAX_PROMPT = 1_000_000
MAX_OUTPUT = 100_000
MAX_DEADLINE_DAYS = 3650.0
MAX_BUDGET_USD = 1e13
MAX_PRICE_USD = 1e8  # one chip
MAX_POWER_MW = 1e5  # 100 GW: a site or a fleet
MAX_ENERGY_PRICE = 10.0  # USD per kWh
MAX_PUE = 5.0
MAX_CARBON_G_PER_KWH = 5000.0
MAX_HOURS = 876_000.0  # a hundred years
MAX_JOBS = 100_000  # network-simulation jobs
MAX_REQUESTS = 1_000_000  # serving-simulation requests
MAX_REPLICAS = 100_000
MAX_TRACE_BYTES = 256 * 2**20  # one trace file
MAX_TRACE_ROWS = 2_000_000
MAX_SITES = 1000  # sites of one network (synthetic-N included)
MAX_WORKERS = 16  # local processes of a sweep (each holds its own catalog and NumPy)
MAX_DRAWS = 20_000  # Monte Carlo draws per grid point (about a minute on one core)
MAX_GRID_POINTS = 1000
MAX_SWEEP_EVALUATIONS = 200_000  # grid points x draws: minutes, not hours
SPEEDUP_RANGE = (1e-3, 1e3)
