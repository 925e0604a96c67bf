"""Small pieces the reference pairs (``reference_tl00N``) share: seeding, tiny MLPs, norms.

The reference pairs live as modules of ``torchlint.runtime`` itself, not in a
sub-package, so that the wheel carries them without a packaging change."""

from __future__ import annotations

import copy


def generator(torch, seed: int, salt: int = 0):
    """A CPU generator for data, so data never depends on the device's RNG."""
    g = torch.Generator()
    g.manual_seed(10_000 * salt + seed)
    return g


def mlp(torch, sizes, seed: int, final=None):
    """A ReLU MLP with a seeded init; ``final`` is appended (e.g. ``nn.Sigmoid()``)."""
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    if final is not None:
        layers.append(final)
    return torch.nn.Sequential(*layers)


def twin(module):
    """An identical copy, so both arms of a pair start from the same weights."""
    return copy.deepcopy(module)


def flat_params(torch, module):
    """All parameters as one detached vector."""
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def grad_norm(torch, params) -> float:
    """Total L2 norm of the gradients present (0.0 when none)."""
    norms = [p.grad.detach().norm() for p in params if p.grad is not None]
    if not norms:
        return 0.0
    return float(torch.stack(norms).norm())
