"""DevMemory lsp_server."""
