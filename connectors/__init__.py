"""Connectors: incremental, idempotent importers that turn outside content into memories."""
