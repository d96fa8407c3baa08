"""swarmscale: plan, predict and simulate AI training and inference on mixed accelerator fleets.

The package flows one way: catalog -> perf -> plan -> fleet/sim -> store/report -> cli/api.
"""

__version__ = "0.1.0"
