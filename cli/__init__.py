"""DevMemory cli."""
