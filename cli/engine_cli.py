"""The engine's CLI side (filled in below)."""
