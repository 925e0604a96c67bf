"""Which code runs once per batch: batch loops, per-batch hooks, guards, and calls.

``runs_per_batch(context, node)`` answers whether ``node`` executes once per
training (or evaluation) batch:

* it sits inside a loop over a data loader or over training steps
  (``for batch in loader``, ``for i, (x, y) in enumerate(tqdm(train_loader))``,
  ``for step in range(max_steps)``, ``while step < total_steps``,
  ``while True: batch = next(it)``); an epoch loop (``for epoch in ...``) is
  not a batch loop, and code in the epoch loop but after the batch loop runs
  once per epoch;
* or inside a per-batch hook (Lightning ``training_step``,
  ``on_train_batch_end``, ``on_before_optimizer_step``, HF ``compute_loss`` in
  a ``Trainer`` subclass, ...);
* or inside a function or method of the same file that is called from such a
  place, followed through up to four calls (``self.get_loss(...)`` from the
  batch loop of ``train_epoch``).

A body guarded to run once (``if not self._unfrozen: ...; self._unfrozen =
True``, ``if step == warmup_steps``, ``if batch_idx == len(loader) - 1``) or
every N steps (``if step % 1000 == 0``) is not per batch.  ``if epoch == 30``
inside the batch loop *is* per batch: it holds for every batch of epoch 30.
A gradient-accumulation gate (``if (i + 1) % accum_steps == 0``) still runs
once per optimizer step, which for learning-rate purposes is per batch.

The analysis is syntactic and reads names, so every answer carries a
confidence on the scale of :mod:`torchlint.semantics.confidence` (0 to 1,
``Confidence.HIGH`` being 0.9): about 0.9 for a loop over a name like ``train_loader`` or a
``DataLoader``, lower for a loop recognised only by its target
(``for step, batch in enumerate(stream)``), and lower again for each call
followed by method name alone.  Ask it after the walk (in ``leave_Module``):
call sites are found through the parent map the walk fills, and
:func:`runs_per_batch` raises ``WalkNotFinished`` when asked earlier.
"""

from __future__ import annotations

from dataclasses import dataclass

from torchlint.context import FileContext
from torchlint.lazy import lazy_module
from torchlint.semantics.callgraph import callee_last, calls_of, require_finished_walk
from torchlint.semantics.conditions import condition_atoms
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.model import assigned_targets, iter_assignments
from torchlint.semantics.names import dotted_name
from torchlint.semantics.values import flow_of, scope_assignments, scope_of
from torchlint.semantics.vocabulary import identifier_words, is_epoch_word
from torchlint.semantics.words import expression_names, expression_words

cst = lazy_module("libcst", globals(), "cst")

MAX_CALL_DEPTH = 4

# Hooks that frameworks call once per batch (or per optimizer step).
_PER_BATCH_HOOKS = frozenset(
    {
        "training_step",
        "training_step_end",
        "validation_step",
        "test_step",
        "on_train_batch_start",
        "on_train_batch_end",
        "on_validation_batch_end",
        "on_before_backward",
        "on_after_backward",
        "on_before_optimizer_step",
        "on_before_zero_grad",
        "train_step",
    }
)
# Generic names that are per-batch hooks only in a framework subclass.
_FRAMEWORK_PER_BATCH_HOOKS = frozenset(
    {
        "optimizer_step",
        "backward",
        "compute_loss",
        "on_step_begin",
        "on_step_end",
        "on_batch_begin",
        "on_batch_end",
        "on_batch_start",
        "on_train_batch_begin",
    }
)
_FRAMEWORK_BASE_WORDS = frozenset({"lightning", "trainer", "callback", "module"})

_WRAPPER_CALLS = frozenset(
    {
        "enumerate",
        "tqdm",
        "zip",
        "iter",
        "islice",
        "cycle",
        "chain",
        "track",
        "progress_bar",
        "progressbar",
        "auto",
        "notebook",
        "sorted",
        "list",
        "skip_first_batches",
    }
)
_RANGE_CALLS = frozenset({"range", "trange", "xrange"})

_STEP_WORDS = frozenset(
    {
        "step",
        "steps",
        "iter",
        "iters",
        "iteration",
        "iterations",
        "itr",
        "it",
        "niter",
        "niters",
        "updates",
        "update",
        "batches",
        "nbatches",
    }
)
# Loop targets that name a training step on their own (`step_lr` does not).
_STEP_TARGET_NAMES = frozenset(
    {"step", "it", "itr", "iter", "iteration", "global_step", "mb", "train_step", "cur_iter"}
)
_DATA_TARGET_WORDS = frozenset(
    {
        "inputs",
        "input",
        "targets",
        "target",
        "images",
        "image",
        "imgs",
        "img",
        "labels",
        "label",
        "x",
        "y",
        "data",
        "sample",
        "samples",
        "gt",
        "src",
        "tgt",
        "low",
        "high",
        "lq",
        "hq",
        "feats",
        "features",
    }
)
_DATASET_WORDS = frozenset({"dataset", "data", "trainset", "ds", "train", "stream"})
# Variables compared with `==` that make a once-guard; epochs and stages are excluded.
_COUNTER_WORDS = _STEP_WORDS | frozenset(
    {"i", "j", "idx", "index", "batch", "count", "counter", "global", "num", "n", "tick"}
)
_ACCUMULATION_WORDS = frozenset({"accum", "accumulation", "accumulate", "accumulated", "acc"})
_ONCE_FLAG_WORDS = frozenset({"last", "first", "final"})


@dataclass(frozen=True)
class BatchAnswer:
    """Whether a node runs once per batch, how sure that is, and why.

    ``where`` describes the per-batch place (``the loop over `train_loader```,
    ``Lightning's `training_step```); ``via`` lists the functions on the call
    path from there to the node, outermost first; ``guard`` names the guard
    that made a body run once or every N steps.
    """

    per_batch: bool
    confidence: float
    where: str = ""
    via: tuple[str, ...] = ()
    guard: str = ""
    # The gate counter that does not change on every pass (``itr``), when the
    # answer is per batch only because an every-N or once gate stalls.
    stalled: str = ""

    def describe(self) -> str:
        """``in `get_loss()`, called from the loop over `self.loader``` and the like."""
        if not self.per_batch:
            return self.guard
        if not self.via:
            return f"inside {self.where}"
        chain = ", called from ".join(f"`{name}()`" for name in reversed(self.via))
        return f"in {chain}, called from {self.where}"


NOT_PER_BATCH = BatchAnswer(False, 1.0)
# The ``guard`` of answers for code that runs once per epoch, or never.
ONCE_PER_EPOCH = "runs once per epoch"
OUTSIDE_BATCH_LOOP = "runs outside the function's batch loop"
NEVER_RUNS = "is in a branch that never runs"


@dataclass(frozen=True)
class LoopKind:
    """What a loop iterates: ``"batch"`` or ``"epoch"``, with confidence and a description."""

    kind: str
    confidence: float
    description: str
    targets: frozenset[str]


def runs_per_batch(context: FileContext, node: cst.CSTNode) -> BatchAnswer:
    """Whether ``node`` runs once per batch; see the module docstring for the rules.

    Raises :class:`~torchlint.semantics.callgraph.WalkNotFinished` when asked
    before the walk has reached the whole file: callers found through the
    parent map would be missing, and the answer silently wrong.
    """
    require_finished_walk(context, "runs_per_batch")
    return _node_answer(context, node, 0, frozenset())


def classify_loop(context: FileContext, loop: cst.For | cst.While) -> LoopKind | None:
    """Whether ``loop`` is a batch loop, an epoch loop, or neither (None)."""
    cache = context.semantics.cache
    key = ("loops.kind", loop)
    if key in cache:
        return cache[key]
    if isinstance(loop, cst.For):
        kind = _classify_for(context, loop)
    else:
        kind = _classify_while(context, loop)
    cache[key] = kind
    return kind


# -- loops ------------------------------------------------------------------


def _target_names(target: cst.BaseExpression) -> list[str]:
    names = []
    stack = [target]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            names.append(node.value)
        elif isinstance(node, (cst.Tuple, cst.List)):
            stack.extend(el.value for el in node.elements)
        elif isinstance(node, cst.Attribute):
            names.append(node.attr.value)
        elif isinstance(node, cst.StarredElement):
            stack.append(node.value)
    return names


def _unwrap_iterable(expr: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The iterables inside ``enumerate(tqdm(loader))``, ``zip(a, b)`` and the like."""
    result = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Call):
            last = callee_last(node)
            if last in _WRAPPER_CALLS:
                positional = [
                    arg.value for arg in node.args if arg.keyword is None and not arg.star
                ]
                if last == "zip":
                    stack.extend(positional)
                elif positional:
                    stack.append(positional[0])
                continue
        result.append(node)
    return result


def _unit_words(expr: cst.CSTNode) -> set[str]:
    """Words of the names in ``expr``, where ``iters_per_epoch`` counts steps, not epochs."""
    words: set[str] = set()
    for name in expression_names(expr):
        name_words = identifier_words(name)
        if "per" in name_words:
            name_words = tuple(w for w in name_words if not is_epoch_word(w))
        words.update(name_words)
    return words


def _is_loader_word(word: str) -> bool:
    return "loader" in word or word in ("dl", "batches", "minibatches", "prefetcher", "batcher")


def _iterable_kind(context: FileContext, expr: cst.BaseExpression, scope, hops: int = 1):
    """("batch"|"epoch"|"range-batch"|"dataset", confidence) for one iterable, or None."""
    if isinstance(expr, cst.Call):
        last = callee_last(expr)
        if last in _RANGE_CALLS:
            words = set()
            for arg in expr.args:
                if arg.keyword is None:
                    words |= _unit_words(arg.value)
            if any(is_epoch_word(w) for w in words):
                return "epoch", Confidence.HIGH
            if words & _STEP_WORDS or any(_is_loader_word(w) for w in words):
                return "batch", Confidence.STRONG
            return None
        if last == "DataLoader":
            return "batch", Confidence.VERY_HIGH
    words = _unit_words(expr)
    if any(is_epoch_word(w) for w in words):
        return "epoch", Confidence.PROBABLE
    if any(_is_loader_word(w) for w in words):
        return "batch", Confidence.HIGH
    if words & {"iter", "iterator"} and words & {"data", "train", "batch", "loader"}:
        return "batch", Confidence.PROBABLE
    if hops > 0 and isinstance(expr, cst.Name):
        for value in _alias_values(context, expr.value, scope):
            for inner in _unwrap_iterable(value):
                found = _iterable_kind(context, inner, scope, hops - 1)
                if found is not None:
                    return found
    if words & _DATASET_WORDS:
        return "dataset", Confidence.MODERATE
    return None


def _alias_values(context: FileContext, name: str, scope) -> list[cst.BaseExpression]:
    """What ``name`` is assigned in ``scope``, or in the module body for a script's loop.

    ``progress_bar = tqdm(enumerate(dataloader))`` before ``for ... in progress_bar``.
    """
    if scope is not None:
        return [
            value
            for target, value in iter_assignments(scope)
            if isinstance(target, cst.Name) and target.value == name
        ]
    return [
        value
        for value, index in scope_assignments(context, context.module).get(name, ())
        if index is None
    ]


def _classify_for(context: FileContext, loop: cst.For) -> LoopKind | None:
    target_names = _target_names(loop.target)
    target_words = {w for name in target_names for w in identifier_words(name)}
    targets = frozenset(target_names)
    if any(is_epoch_word(w) for w in target_words):
        return LoopKind("epoch", Confidence.HIGH, "", targets)
    scope = context.semantics.enclosing_function(loop)
    iterables = _unwrap_iterable(loop.iter)
    describe = _code(context, iterables[0] if len(iterables) == 1 else loop.iter)
    kinds = [_iterable_kind(context, it, scope) for it in iterables]
    kinds = [k for k in kinds if k is not None]
    for kind, confidence in kinds:
        if kind == "epoch":
            return LoopKind("epoch", confidence, "", targets)
    for kind, confidence in kinds:
        if kind == "batch":
            return LoopKind("batch", confidence, f"the loop over `{describe}`", targets)
    if target_words & {"batch", "batches", "minibatch"} or targets & _STEP_TARGET_NAMES:
        return LoopKind("batch", Confidence.LIKELY, f"the loop over `{describe}`", targets)
    if kinds and target_words & _DATA_TARGET_WORDS:
        return LoopKind("batch", Confidence.MODERATE, f"the loop over `{describe}`", targets)
    return None


def _classify_while(context: FileContext, loop: cst.While) -> LoopKind | None:
    words = _unit_words(loop.test)
    if any(is_epoch_word(w) for w in words):
        return LoopKind("epoch", Confidence.PROBABLE, "", frozenset())
    if words & _STEP_WORDS:
        return LoopKind(
            "batch", Confidence.PROBABLE, f"`while {_code(context, loop.test)}`", frozenset()
        )
    if _calls_next(loop.body):
        return LoopKind(
            "batch", Confidence.FAIR, "the loop drawing batches with `next()`", frozenset()
        )
    return None


def _calls_next(body: cst.CSTNode, limit: int = 400) -> bool:
    from torchlint.walk import iter_children

    stack = [body]
    seen = 0
    while stack and seen < limit:
        node = stack.pop()
        seen += 1
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.For, cst.While)):
            continue
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Name)
            and node.func.value == "next"
        ):
            return True
        stack.extend(iter_children(node))
    return False


# -- guards -----------------------------------------------------------------


def _test_guard(test: cst.BaseExpression, counters, epoch_vars) -> str | None:
    if isinstance(test, cst.BooleanOperation):
        left = _test_guard(test.left, counters, epoch_vars)
        right = _test_guard(test.right, counters, epoch_vars)
        if isinstance(test.operator, cst.And):
            kinds = [k for k in (left, right) if k is not None]
            strong = [k for k in kinds if k != "accumulation"]
            return (strong or kinds or [None])[0]
        if left is not None and right is not None:
            return left if left != "accumulation" else right
        return None
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        modulo = _find_modulo(test.expression)
        if modulo is not None:
            return _modulo_kind(modulo, epoch_vars)
        return None
    if isinstance(test, cst.Comparison):
        sides = [test.left] + [c.comparator for c in test.comparisons]
        ops = [c.operator for c in test.comparisons]
        if not all(isinstance(op, (cst.Equal, cst.Is, cst.In)) for op in ops):
            return None
        for side in sides:
            modulo = _find_modulo(side)
            if modulo is not None:
                return _modulo_kind(modulo, epoch_vars)
        for side in sides:
            if _is_counter(side, counters, epoch_vars):
                return "once"
        return None
    words = expression_words(test)
    if words & _ONCE_FLAG_WORDS and words & {"batch", "step", "iter", "iteration"}:
        return "once"
    return None


def _find_modulo(expr: cst.BaseExpression) -> cst.BinaryOperation | None:
    while isinstance(expr, cst.BinaryOperation):
        if isinstance(expr.operator, cst.Modulo):
            return expr
        expr = expr.left
    return None


def _modulo_kind(modulo: cst.BinaryOperation, epoch_vars: frozenset[str]) -> str | None:
    dividend = _plain_names(modulo.left)
    if dividend & epoch_vars or any(
        is_epoch_word(w) for name in dividend for w in identifier_words(name)
    ):
        # `epoch % 10 == 0` inside the batch loop holds for every batch of
        # every tenth epoch: not an every-N-steps gate.
        return None
    divisor_words = expression_words(modulo.right)
    if divisor_words & _ACCUMULATION_WORDS:
        return "accumulation"
    if (
        any(is_epoch_word(w) for w in divisor_words)
        or "len" in divisor_words
        or divisor_words & {"batches", "nbatches"}
    ):
        return "per-epoch"
    return "every-n"


def _is_counter(side: cst.BaseExpression, counters, epoch_vars) -> bool:
    names = _plain_names(side)
    if not names:
        return False
    words = {w for name in names for w in identifier_words(name)}
    if names & epoch_vars or any(is_epoch_word(w) for w in words):
        return False
    if words & {"stage", "phase", "mode", "name", "state", "status", "type", "kind"}:
        return False
    return bool(names & counters or words & _COUNTER_WORDS)


def _plain_names(expr: cst.BaseExpression) -> set[str]:
    """Dotted names read in an arithmetic expression (``i + 1`` -> ``i``)."""
    found = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Name, cst.Attribute)):
            name = dotted_name(node)
            if name is not None:
                found.add(name.rsplit(".", 1)[-1])
        elif isinstance(node, cst.BinaryOperation):
            stack.extend((node.left, node.right))
        elif isinstance(node, cst.UnaryOperation):
            stack.append(node.expression)
    return found


def _disarms_itself(if_node: cst.If) -> bool:
    """The body assigns something the test reads: a flag or a reset counter (a latch)."""
    tested = {dotted_name(n) for n in _names_and_attributes(if_node.test)} - {None}
    if not tested:
        return False
    stack: list[cst.CSTNode] = [if_node.body]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                for target in assigned_targets(small):
                    if dotted_name(target) in tested:
                        return True
        elif isinstance(node, cst.IndentedBlock):
            stack.extend(node.body)
        elif isinstance(node, (cst.If, cst.For, cst.While, cst.With, cst.Try)):
            stack.append(node.body)
    return False


def _names_and_attributes(expr: cst.BaseExpression):
    from torchlint.walk import iter_children

    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Name, cst.Attribute)):
            yield node
            if isinstance(node, cst.Attribute):
                continue
        stack.extend(iter_children(node))


# -- gates whose counter stalls ---------------------------------------------------


def _gate_counters(test: cst.BaseExpression, counters, epoch_vars) -> set[str] | None:
    """The local names an every-N or once gate counts with; None when one is not a name.

    ``itr`` for ``if itr > 0 and itr % decay_step == 0``.  An attribute
    (``self.global_step``) may be advanced by any call: no answer.
    """
    found: set[str] = set()
    for atom in condition_atoms(test):
        sides = [atom]
        if isinstance(atom, cst.Comparison):
            sides = [atom.left, *(c.comparator for c in atom.comparisons)]
            equal = all(
                isinstance(c.operator, (cst.Equal, cst.Is, cst.In)) for c in atom.comparisons
            )
        else:
            equal = False
        for side in sides:
            modulo = _find_modulo(side)
            if modulo is not None:
                read = [modulo.left]
            elif equal and _is_counter(side, counters, epoch_vars):
                read = [side]
            else:
                continue
            for expr in read:
                for leaf in _arithmetic_leaves(expr):
                    if isinstance(leaf, cst.Name):
                        found.add(leaf.value)
                    elif not isinstance(leaf, (cst.Integer, cst.Float)):
                        return None
    return found or None


def _arithmetic_leaves(expr: cst.BaseExpression):
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.BinaryOperation):
            stack.extend((node.left, node.right))
        elif isinstance(node, cst.UnaryOperation):
            stack.append(node.expression)
        else:
            yield node


def _stalled_counter(context: FileContext, gate: cst.If, loop: cst.For | cst.While) -> str | None:
    """A counter of ``gate`` that can stay the same over passes of the batch ``loop``.

    The gate ``if itr % N == 0`` fires once per value of ``itr`` only if every
    pass of the loop that reaches it also changes ``itr``: the loop's own
    target, or an assignment on every path through the body (both arms of an
    ``if``/``else``, or the arm the gate is in).  An ``itr`` that only moves
    when some condition holds (``if done: itr += 1``), or that belongs to an
    outer loop (constant across this one), leaves the gate true for several
    passes in a row.
    """
    names = _gate_counters(
        gate.test,
        frozenset(_target_names(loop.target)) if isinstance(loop, cst.For) else frozenset(),
        frozenset(),
    )
    if not names:
        return None
    declared = _declared_global_names(context)
    if names & declared:
        return None
    if isinstance(loop, cst.For) and names & set(_target_names(loop.target)):
        return None
    inside = {id(node) for node in context.ancestors(gate)}
    inside.add(id(gate))
    for name in sorted(names):
        if _block_changes(loop.body, name, inside):
            return None
    return sorted(names)[0]


def _declared_global_names(context: FileContext) -> frozenset[str]:
    """Names some function declares ``global``/``nonlocal``: calls may change them."""
    key = "loops.global_names"
    cache = context.semantics.cache
    found = cache.get(key)
    if found is None:
        from torchlint.walk import iter_children

        names = set()
        stack: list[cst.CSTNode] = [context.module]
        while stack:
            node = stack.pop()
            if isinstance(node, (cst.Global, cst.Nonlocal)):
                names.update(item.name.value for item in node.names)
                continue
            if isinstance(node, cst.BaseExpression):
                continue
            stack.extend(iter_children(node))
        found = frozenset(names)
        cache[key] = found
    return found


def _block_changes(block: cst.CSTNode, name: str, inside: set[int]) -> bool:
    """Whether every pass through ``block`` that reaches the gate assigns ``name``."""
    statements = (
        block.body if isinstance(block, (cst.IndentedBlock, cst.SimpleStatementSuite)) else [block]
    )
    return any(_statement_changes(statement, name, inside) for statement in statements)


def _statement_changes(statement: cst.CSTNode, name: str, inside: set[int]) -> bool:
    if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return any(
            name in _target_names(target)
            for small in statement.body
            for target in assigned_targets(small)
        )
    if isinstance(statement, cst.BaseSmallStatement):
        return any(name in _target_names(target) for target in assigned_targets(statement))
    if isinstance(statement, cst.If):
        orelse = statement.orelse
        if orelse is not None and id(orelse) in inside:
            return _arm_changes(orelse, name, inside)
        if id(statement) in inside:
            # The gate itself, or an `if` whose body holds it.
            return _block_changes(statement.body, name, inside)
        return (
            _block_changes(statement.body, name, inside)
            and orelse is not None
            and _arm_changes(orelse, name, inside)
        )
    if isinstance(statement, (cst.For, cst.While)):
        if isinstance(statement, cst.For) and name in _target_names(statement.target):
            return True
        return _block_changes(statement.body, name, inside)
    if isinstance(statement, (cst.With, cst.Try)):
        if isinstance(statement, cst.Try):
            for handler in statement.handlers:
                if id(handler) in inside:
                    return _block_changes(handler.body, name, inside)
        return _block_changes(statement.body, name, inside)
    return False


def _arm_changes(orelse: cst.CSTNode, name: str, inside: set[int]) -> bool:
    if isinstance(orelse, cst.If):
        return _statement_changes(orelse, name, inside)
    return _block_changes(orelse.body, name, inside)


# -- branches -------------------------------------------------------------------

_NEGATED_COMPARISONS = (
    ("Equal", "NotEqual"),
    ("LessThan", "GreaterThanEqual"),
    ("GreaterThan", "LessThanEqual"),
    ("Is", "IsNot"),
    ("In", "NotIn"),
)
_NEGATION = {a: b for a, b in _NEGATED_COMPARISONS} | {b: a for a, b in _NEGATED_COMPARISONS}


def branch_conditions(context: FileContext, node: cst.CSTNode) -> frozenset[tuple[str, bool]]:
    """What must hold for ``node`` to run, as ``(condition text, truth)`` pairs.

    Read from the ``if``/``elif``/``else`` arms around ``node`` up to its
    function: ``if flag:`` gives ``("flag", True)``, its ``else`` (or ``if not
    flag:``) ``("flag", False)``; ``a and b`` in a body gives both;
    ``epoch < w`` is ``("epoch >= w", False)`` as well.
    """
    found: set[tuple[str, bool]] = set()
    child = node
    for ancestor in context.ancestors(node):
        if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            break
        if isinstance(ancestor, cst.If):
            if child is ancestor.body:
                _add_condition(context, ancestor.test, True, found)
            elif child is ancestor.orelse:
                _add_condition(context, ancestor.test, False, found)
        child = ancestor
    return frozenset(found)


def _add_condition(context, test, truth: bool, found: set) -> None:
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        _add_condition(context, test.expression, not truth, found)
        return
    if isinstance(test, cst.BooleanOperation):
        conjunction = isinstance(test.operator, cst.And)
        if conjunction == truth:
            # `a and b` true: both true; `a or b` false: both false.
            _add_condition(context, test.left, truth, found)
            _add_condition(context, test.right, truth, found)
        return
    found.add((_code(context, test), truth))
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        negated = _NEGATION.get(type(target.operator).__name__)
        if negated is not None:
            flipped = test.with_changes(
                comparisons=[target.with_changes(operator=getattr(cst, negated)())]
            )
            found.add((cst.Module([]).code_for_node(flipped), not truth))


def mutually_exclusive(context: FileContext, first: cst.CSTNode, second: cst.CSTNode) -> bool:
    """Whether ``first`` and ``second`` sit in branches that exclude each other.

    ``if flag: a`` / ``else: b``, or ``if per_batch: a`` in one place and
    ``if not per_batch: b`` in another (the same condition text, opposite truth).
    """
    one = branch_conditions(context, first)
    if not one:
        return False
    other = branch_conditions(context, second)
    return any((text, not truth) in other for text, truth in one)


def never_runs(context: FileContext, node: cst.CSTNode) -> bool:
    """Whether an enclosing ``if`` arm of ``node`` cannot be taken: ``if False:``, or a
    flag whose every assignment in reach is the literal ``False`` (or ``0``/``None``)."""
    child = node
    for ancestor in context.ancestors(node):
        if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return False
        if isinstance(ancestor, cst.If) and _branch_never_runs(context, ancestor, child):
            return True
        child = ancestor
    return False


def _branch_never_runs(context: FileContext, if_node: cst.If, child: cst.CSTNode) -> bool:
    if child is if_node.body:
        return _constant_truth(context, if_node.test) is False
    if child is if_node.orelse:
        return _constant_truth(context, if_node.test) is True
    return False


def _constant_truth(context: FileContext, test: cst.BaseExpression) -> bool | None:
    if isinstance(test, cst.Name):
        if test.value in ("True", "False", "None"):
            return test.value == "True"
        return _literal_flag(context, test)
    if isinstance(test, cst.Integer):
        return test.value not in ("0",)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = _constant_truth(context, test.expression)
        return None if inner is None else not inner
    if isinstance(test, cst.BooleanOperation):
        left = _constant_truth(context, test.left)
        right = _constant_truth(context, test.right)
        if isinstance(test.operator, cst.And):
            if left is False or right is False:
                return False
            return True if left and right else None
        if left is True or right is True:
            return True
        return False if left is False and right is False else None
    return None


def _literal_flag(context: FileContext, name: cst.Name) -> bool | None:
    """The truth of a local flag every binding of which is a literal constant."""
    if name.value in _declared_global_names(context):
        return None
    scope = scope_of(context, name)
    if scope is None:
        return None
    flow = scope.flow
    every = flow.bindings.get(name.value)
    if not every:
        module = flow_of(context, None)
        if flow is module:
            return None
        every = module.bindings.get(name.value)
    if not every:
        return None
    truths = set()
    for binding in every:
        if binding.kind != "assign" or binding.index is not None:
            return None
        value = binding.value
        if isinstance(value, cst.Name) and value.value in ("True", "False", "None"):
            truths.add(value.value == "True")
        elif isinstance(value, cst.Integer):
            truths.add(value.value != "0")
        else:
            return None
    return truths.pop() if len(truths) == 1 else None


# -- walking up ---------------------------------------------------------------


def _node_answer(context: FileContext, node: cst.CSTNode, depth: int, visiting) -> BatchAnswer:
    chain: list[cst.CSTNode] = []
    for ancestor in context.ancestors(node):
        chain.append(ancestor)
        if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef)):
            break
    loops = {
        id(anc): classify_loop(context, anc)
        for anc in chain
        if isinstance(anc, (cst.For, cst.While))
    }
    counters = frozenset(
        name for kind in loops.values() if kind and kind.kind == "batch" for name in kind.targets
    )
    epoch_vars = frozenset(
        name for kind in loops.values() if kind and kind.kind == "epoch" for name in kind.targets
    )
    guard = ""
    gate: cst.If | None = None
    accumulation = False
    child = node
    for ancestor in chain:
        if isinstance(ancestor, cst.If) and _branch_never_runs(context, ancestor, child):
            return BatchAnswer(False, Confidence.HIGH, guard=NEVER_RUNS)
        if isinstance(ancestor, cst.If) and child is ancestor.body and not guard:
            kind = _test_guard(ancestor.test, counters, epoch_vars)
            if kind is None and _disarms_itself(ancestor):
                kind = "once"
            elif kind is not None and kind != "accumulation":
                gate = ancestor
            if kind == "accumulation":
                accumulation = True
            elif kind is not None:
                guard = f"guarded by `if {_code(context, ancestor.test)}` ({kind})"
        elif isinstance(ancestor, (cst.For, cst.While)) and child is ancestor.body:
            loop = loops.get(id(ancestor))
            if loop is not None and loop.kind == "batch":
                stalled = _stalled_counter(context, gate, ancestor) if gate is not None else None
                if stalled is not None:
                    # `if itr % N == 0` whose `itr` does not move on every pass holds
                    # for several passes in a row: the body runs on each of them.
                    where = (
                        f"{loop.description}, where `if {_code(context, gate.test)}` stays "
                        f"true on every pass until `{stalled}` changes"
                    )
                    return BatchAnswer(
                        True, loop.confidence * Confidence.STRONG, where, stalled=stalled
                    )
                if guard:
                    return BatchAnswer(False, loop.confidence, loop.description, guard=guard)
                confidence = loop.confidence * (Confidence.VERY_HIGH if accumulation else 1.0)
                return BatchAnswer(True, confidence, loop.description)
            if loop is not None and loop.kind == "epoch":
                # In the epoch loop but outside any batch loop: once per epoch.
                return BatchAnswer(False, loop.confidence, guard=ONCE_PER_EPOCH)
        elif isinstance(ancestor, cst.FunctionDef):
            if guard:
                return BatchAnswer(False, Confidence.PROBABLE, guard=guard)
            if _has_batch_loop(context, ancestor):
                # The function runs the batch loop itself (`train_one_epoch`), and
                # this code is outside it: before or after the batches.
                return BatchAnswer(False, Confidence.PROBABLE, guard=OUTSIDE_BATCH_LOOP)
            return _function_answer(context, ancestor, depth, visiting)
        elif isinstance(ancestor, cst.ClassDef):
            return NOT_PER_BATCH
        child = ancestor
    return NOT_PER_BATCH


def _function_answer(
    context: FileContext, fn: cst.FunctionDef, depth: int, visiting
) -> BatchAnswer:
    cache = context.semantics.cache
    key = ("loops.function", fn)
    if key in cache:
        return cache[key]
    answer = _hook_answer(context, fn)
    if answer is None:
        answer = NOT_PER_BATCH
        if depth < MAX_CALL_DEPTH and fn not in visiting:
            answer = _callers_answer(context, fn, depth, visiting | {fn})
    # Answers cut short by recursion or depth are not final; cache only the rest.
    if depth == 0 or answer.per_batch:
        cache[key] = answer
    return answer


def _has_batch_loop(context: FileContext, fn: cst.FunctionDef) -> bool:
    """Whether ``fn``'s own body (not nested functions) holds a batch loop."""
    cache = context.semantics.cache
    key = ("loops.has_batch_loop", fn)
    found = cache.get(key)
    if found is None:
        found = False
        stack: list[cst.CSTNode] = [fn.body]
        while stack and not found:
            node = stack.pop()
            if isinstance(node, (cst.For, cst.While)):
                kind = classify_loop(context, node)
                found = kind is not None and kind.kind == "batch"
            if isinstance(node, (cst.SimpleStatementLine, cst.FunctionDef, cst.ClassDef)):
                continue
            stack.extend(_statement_children(node))
        cache[key] = found
    return found


def _statement_children(node: cst.CSTNode):
    """Statements and blocks below a compound statement (expressions are skipped)."""
    for name in ("body", "orelse", "finalbody", "handlers"):
        value = getattr(node, name, None)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from (item for item in value if isinstance(item, cst.CSTNode))


def _hook_answer(context: FileContext, fn: cst.FunctionDef) -> BatchAnswer | None:
    name = fn.name.value
    if name == "step" and _is_optimizer_step(context, fn):
        return BatchAnswer(
            True, Confidence.HIGH, "an optimizer's `step()`, which runs once per batch"
        )
    if name not in _PER_BATCH_HOOKS and name not in _FRAMEWORK_PER_BATCH_HOOKS:
        return None
    cls = context.semantics.class_of_method(fn)
    if cls is None:
        return None
    if name in _FRAMEWORK_PER_BATCH_HOOKS:
        base_words = {
            w for base in context.semantics.base_names(cls) for w in identifier_words(base)
        }
        if not base_words & _FRAMEWORK_BASE_WORDS:
            return None
    return BatchAnswer(True, Confidence.HIGH, f"`{name}`, which runs once per batch")


def _is_optimizer_step(context: FileContext, fn: cst.FunctionDef) -> bool:
    """Whether ``fn`` is ``step()`` of an optimizer class or an optimizer wrapper.

    The class is named an optimizer (``LayerDecayOptimizer``, ``ScheduledOptim``) or
    derives from one (``torch.optim.SGD``); learning-rate schedulers, whose ``step()``
    runs once per epoch, are never optimizers here.
    """
    cls = context.semantics.class_of_method(fn)
    if cls is None:
        return False
    words = set(identifier_words(cls.name.value))
    for base in context.semantics.base_names(cls):
        words.update(identifier_words(base))
    if any("sched" in word for word in words) or "lr" in words:
        return False
    return bool(words & {"optimizer", "optim", "opt"})


def _optimizer_call_to_other_step(context: FileContext, call: cst.Call, fn) -> bool:
    """``optimizer.step()`` matched by name to the ``step()`` of a class that is no optimizer.

    Inside an optimizer wrapper, ``self.optimizer.step()`` steps the wrapped optimizer, not
    a learning-rate scheduler of the same file that also defines ``step()``.
    """
    if fn.name.value != "step" or not isinstance(call.func, cst.Attribute):
        return False
    if isinstance(call.func.value, cst.Call) and callee_last(call.func.value) == "super":
        caller = context.semantics.enclosing_function(call)
        return (
            caller is not None
            and caller.name.value == "step"
            and _is_optimizer_step(context, caller)
            and not _is_optimizer_step(context, fn)
        )
    receiver = identifier_words(dotted_name(call.func.value) or "")
    if not receiver or not {"optimizer", "optim", "opt"} & set(receiver[-1:]):
        return False
    return not _is_optimizer_step(context, fn)


def _callers_answer(context: FileContext, fn: cst.FunctionDef, depth: int, visiting) -> BatchAnswer:
    name = fn.name.value
    best = NOT_PER_BATCH
    for call, weight in calls_of(context, fn):
        if _optimizer_call_to_other_step(context, call, fn):
            continue
        caller = _node_answer(context, call, depth + 1, visiting)
        if caller.per_batch:
            confidence = caller.confidence * weight
            if confidence > best.confidence or not best.per_batch:
                best = BatchAnswer(
                    True, confidence, caller.where, (*caller.via, name), stalled=caller.stalled
                )
    return best


def _code(context: FileContext, node: cst.CSTNode) -> str:
    return context.snippet(node, 60)
