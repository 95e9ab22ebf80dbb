"""Composition root: settings, CLI and (later) the web app."""
