"""Async adapters that speak each ad platform's real wire protocol (and the sandbox's)."""
