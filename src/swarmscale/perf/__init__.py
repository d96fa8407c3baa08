"""Analytical performance model: pure functions of typed inputs, vectorised with NumPy."""
