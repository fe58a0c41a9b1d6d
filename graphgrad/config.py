"""The few global settings of graphgrad."""
from __future__ import annotations

import numpy as np

#: Default float dtype for symbolic inputs and Python-float constants that stand alone.
floatX: str = "float32"


def float_dtype() -> np.dtype:
    """The current default float dtype as a numpy dtype."""
    return np.dtype(floatX)
