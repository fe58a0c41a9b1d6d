"""The few global settings of graphgrad."""
from __future__ import annotations

#: Default float dtype for symbolic inputs and Python-float constants that stand alone.
floatX: str = "float32"

