"""Scenario sweeps with seeded Monte Carlo uncertainty, on local processes or Ray."""
