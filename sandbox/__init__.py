"""Emulators of the Meta, X and TikTok ad APIs over one seeded simulated market.

Nothing outside `app/` imports this package: every other layer reaches the sandbox over HTTP,
exactly as it reaches a real platform.
"""
