"""The 1-bit code of a vector: what the in-process index ranks by Hamming distance."""

from __future__ import annotations

import numpy as np


def codes_of(vector: np.ndarray) -> bytes:
    """The 1-bit code of a vector (sign of each dimension), packed."""
    return np.packbits(np.asarray(vector) > 0).tobytes()
