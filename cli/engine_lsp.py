"""The engine's language-server side (filled in below)."""
