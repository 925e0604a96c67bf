"""Shared analysis of PyTorch code that the rules ask questions of.

Rules do not re-derive facts: they ask ``is_tensor(expr)``, ``bounds(expr)``,
``runs_per_batch(node)``, ``is_loss_function(fn)`` and the like, and each
answer is computed once per file.  Everything here is syntactic and local to
one file (no imports are followed), which keeps it fast and predictable.
"""
