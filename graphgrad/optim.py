"""Update builders: the (shared variable, new value) pairs that ``function(updates=...)`` takes."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .grad import grad
from .graph import SharedVariable, Variable
from .ops.basic import shared


def sgd(cost: Variable, params: Sequence[SharedVariable], lr: float | Variable) -> list[tuple[SharedVariable, Variable]]:
    """Plain gradient descent: ``p <- p - lr * grad``, all gradients from one sweep. Row-sparse
    gradients give in-place row updates."""
    grads = grad(cost, list(params))
    return [(p, p - lr * g) for p, g in zip(params, grads)]


def momentum(cost: Variable, params: Sequence[SharedVariable], lr: float | Variable,
             mu: float = 0.9) -> list[tuple[SharedVariable, Variable]]:
    """Heavy-ball momentum: ``v <- mu v - lr g; p <- p + v`` with a dense velocity per parameter."""
    updates: list[tuple[SharedVariable, Variable]] = []
    for p, g in zip(params, grad(cost, list(params))):
        velocity = shared(np.zeros_like(p.get_value(borrow=True)), name=f"{p.name or 'param'}_velocity")
        new_velocity = mu * velocity - lr * g
        updates += [(velocity, new_velocity), (p, p + new_velocity)]
    return updates
