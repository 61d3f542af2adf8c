"""DevMemory mcp_server."""
