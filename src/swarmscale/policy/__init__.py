"""Sourcing policies: which chips a buyer may use, and what share must be domestic."""
