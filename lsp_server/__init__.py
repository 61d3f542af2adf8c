"""DevMemory's language server (pygls + lsprotocol): memories inside any LSP editor."""

__version__ = "0.1.0"
