"""DevMemory connectors."""
