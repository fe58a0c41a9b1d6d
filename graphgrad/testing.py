"""``verify_grad``: check symbolic gradients against central finite differences in float64."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .compile import function
from .grad import grad
from .graph import Variable
from .ops.basic import as_tensor, tensor
from .sparse import dense
from .types import GraphgradError


class GradientMismatch(GraphgradError, AssertionError):
    """A symbolic gradient disagrees with finite differences."""


def verify_grad(f: Callable[..., Variable], inputs: Sequence[np.ndarray], eps: float = 1e-6,
                rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0) -> None:
    """Check ``grad`` of ``f`` at the point ``inputs`` against central differences, in float64.

    ``f`` builds a graph from one symbolic variable per array in ``inputs`` (float arrays are
    differentiated; integer arrays are passed as they are). A non-scalar result is projected onto a
    fixed random direction. Raises GradientMismatch naming the input, the element and both values
    of the worst disagreement.
    """
    rng = np.random.default_rng(seed)
    arrays = [np.array(a, dtype=np.float64 if np.asarray(a).dtype.kind == "f" else np.asarray(a).dtype)
              for a in inputs]
    variables = [tensor(f"x{k}", a.dtype, a.shape) for k, a in enumerate(arrays)]
    out = as_tensor(f(*variables))
    if out.dtype != np.float64:
        out = out.astype("float64")
    projection = rng.standard_normal(tuple(0 if d is None else d for d in out.type.shape))
    cost = out if out.ndim == 0 else (out * projection).sum() if None not in out.type.shape else None
    if cost is None:
        raise GradientMismatch("verify_grad: the output of f must have a static shape")
    float_positions = [k for k, a in enumerate(arrays) if a.dtype.kind == "f"]
    grads = grad(cost, [variables[k] for k in float_positions], disconnected_inputs="ignore")
    cost_fn = function(variables, cost)
    grad_fn = function(variables, [dense(g) for g in grads])
    symbolic = grad_fn(*arrays)
    worst = (0.0, "")
    for k, g in zip(float_positions, symbolic):
        numeric = np.zeros_like(arrays[k])
        flat, numeric_flat = arrays[k].reshape(-1), numeric.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + eps
            up = float(cost_fn(*arrays))
            flat[i] = saved - eps
            down = float(cost_fn(*arrays))
            flat[i] = saved
            numeric_flat[i] = (up - down) / (2 * eps)
        error = np.asarray(np.abs(np.asarray(g) - numeric) - (atol + rtol * np.abs(numeric)))
        error = np.where(np.isfinite(error), error, np.inf)  # a NaN gradient is the worst mismatch, not none
        if error.size and error.max() > worst[0]:
            i = int(error.argmax())
            element = tuple(int(d) for d in np.unravel_index(i, numeric.shape))
            worst = (float(error.max()), f"input {k} ({variables[k].name}) element {element}: "
                                         f"symbolic {np.asarray(g).reshape(-1)[i]:.8g}, numeric {numeric_flat[i]:.8g}")
    if worst[0] > 0:
        raise GradientMismatch(f"verify_grad: gradient mismatch at {worst[1]}")
