"""Shared analysis of PyTorch code that the rules ask questions of.

Rules do not re-derive facts: they ask ``is_tensor(context, expr)``,
``bounds(context, expr)``, ``runs_per_batch(context, node)``,
``is_loss_function(context, fn)`` and the like, and each answer is computed
once per file.  Everything here is syntactic and local to one file (no
imports are followed), which keeps it fast and predictable.

One calling convention: every public function takes the file's
:class:`~torchlint.context.FileContext` first (a rule passes
``self.context``).  Facts that do not depend on who asks (imports,
definitions, the call index, the per-scope bindings) are cached on
``context.semantics`` (:class:`~torchlint.semantics.model.SemanticModel`).

Where a rule's cheap stage needs the same question answered on CPython's
``ast`` (before libcst parses the file), the mirror lives beside the libcst
analysis it mirrors (``losses.may_define_a_loss`` next to
``is_loss_function``), reading the same vocabulary.
"""
