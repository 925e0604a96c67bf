"""Importing torch the way the harness and the probes need it.

``OMP_WAIT_POLICY`` must be set before torch starts its OpenMP pool: with the
default spin-wait, two threads on a loaded two-core machine ran 13-26x slower
than one. It is only set when the user has not chosen a value.
"""

from __future__ import annotations

import os

INSTALL_HINT = "pip install 'torchlint[runtime]'"


class TorchMissing(ImportError):
    """torch is not installed; the runtime half needs it."""


def import_torch():
    """Return the ``torch`` module, setting ``OMP_WAIT_POLICY=PASSIVE`` first if unset."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise TorchMissing(f"torch is required: {INSTALL_HINT}") from exc
    return torch
