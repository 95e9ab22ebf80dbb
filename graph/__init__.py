"""graph layer of adcluster (see docs/architecture.md)."""
