"""Validation: predict every shipped (or user) case and compare with what was measured."""
