"""Numeric optimizers: pure functions and small classes, no I/O. Numbers come from here, never an LLM."""
