"""Ingestion: platform adapters -> raw lake -> normalised records -> warehouse upserts."""
