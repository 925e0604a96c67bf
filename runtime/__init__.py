"""torchlint's runtime half (installed as ``torchlint.runtime``); needs torch.

Importing this package does not import torch: the names below load their
module on first use, so ``torchlint --help`` stays fast and works without torch.

- :func:`confirm_rules` -- run the reference pairs, get :class:`RuleResult` objects.
- :func:`watch` / :class:`Watch` -- probes for a user's own training loop.
- :class:`Thresholds` -- the probes' documented, configurable thresholds.
- :class:`Finding` -- one thing a probe reported, with its rule code.
"""

from __future__ import annotations

from torchlint import __version__

_LAZY = {
    "confirm_rules": "torchlint.runtime.harness",
    "RuleResult": "torchlint.runtime.harness",
    "ClaimResult": "torchlint.runtime.harness",
    "HarnessError": "torchlint.runtime.harness",
    "RULE_CODES": "torchlint.runtime.harness",
    "Claim": "torchlint.runtime.stats",
    "decide": "torchlint.runtime.stats",
    "watch": "torchlint.runtime.probes",
    "Watch": "torchlint.runtime.probes",
    "Thresholds": "torchlint.runtime.probes",
    "Finding": "torchlint.runtime.probes",
    "count_host_syncs": "torchlint.runtime.probes",
    "TorchlintCallback": "torchlint.runtime.lightning",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str):
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'torchlint.runtime' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
