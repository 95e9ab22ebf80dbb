"""Prompt templates, one plain-text file per prompt, loaded by name."""
