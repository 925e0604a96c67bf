"""The order of a training step: backward, clipping, optimizer steps, zeroing, train/eval.

A training step is judged on the statements of one body in the order they
run, not on line numbers: :func:`step_events` flattens a function (or the
module body) into the events it performs, in execution order, following
``if``/``else`` branches, ``with`` and ``try`` blocks, nested loops, and the
calls into functions and methods of the same file (up to
``MAX_INLINE_DEPTH`` calls deep, which is how ``self.eval_model(...)`` in a
batch loop is seen to call ``model.eval()`` two methods further down).

Every event carries:

* its ``kind``: ``backward`` (``loss.backward()``, ``scaler.scale(loss).backward()``,
  ``accelerator.backward(loss)``), ``step`` (an optimizer's ``.step()``, or
  ``scaler.step(optimizer)``), ``zero`` (``.zero_grad()``, ``p.grad = None``,
  ``p.grad.zero_()``, a helper named like ``reset_grad``), ``grad-write``
  (``p.grad = <value>``: gradients written by hand), ``clip``
  (``torch.nn.utils.clip_grad_norm_``/``clip_grad_value_``), ``unscale``
  (``scaler.unscale_(optimizer)``), ``eval`` (``model.eval()``,
  ``model.train(False)``), ``train`` (``model.train()``), ``mode``
  (``model.train(flag)``: either), or ``exit`` (``return``/``raise`` of the
  flattened function itself, or ``break``);
* its ``receiver``: the object acted on, as a key that survives aliases
  (``model = self.model`` makes ``model.eval()`` act on ``self.model``),
  parameters bound at the inlined call (``evaluate(net)`` makes the callee's
  ``model.eval()`` act on ``net``) and ``DataParallel``/``.module`` wrappers;
* its ``guards``: the branches and loop bodies it sits in, outermost first,
  as ``(node, branch)`` pairs (``LOOP_BODY`` for a loop's body), so two
  events can be asked whether they can run in the same pass
  (:func:`compatible`) and whether one runs whenever the other does
  (:func:`runs_whenever`);
* its ``chain``: the inlined calls that lead to it from the flattened body.

The loops of a flattening are read back with :func:`loop_runs`: each run of
consecutive events inside one loop body is one pass of that loop, which
:func:`cyclic_after` walks past its end into the next pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from torchlint.context import FileContext
from torchlint.lazy import lazy_module
from torchlint.semantics.callgraph import bound_argument, call_sites, callee_last, resolve_callee
from torchlint.semantics.names import dotted_name
from torchlint.semantics.vocabulary import BACKWARD_CALLS, identifier_words
from torchlint.walk import iter_children

cst = lazy_module("libcst", globals(), "cst")

MAX_INLINE_DEPTH = 4
LOOP_BODY = -1

# -- vocabulary (plain strings: the rules' cheap stages use the same sets) ------

#: Receivers named with one of these words are optimizers (``optimizer_g``, ``optD``).
OPTIMIZER_WORDS = frozenset(
    {"opt", "opts", "optim", "optims", "optimizer", "optimizers", "optimiser", "optimisers"}
)
#: ``scaler.step(optimizer)``, ``grad_scaler.unscale_(optimizer)``: an AMP gradient scaler.
SCALER_WORDS = frozenset({"scaler"})
#: Gradient clipping that works on ``.grad`` in place (torch.nn.utils).
CLIP_CALLS = frozenset({"clip_grad_norm_", "clip_grad_norm", "clip_grad_value_"})
ZERO_GRAD_CALLS = frozenset({"zero_grad"})
STEP_CALLS = frozenset({"step"})
UNSCALE_CALLS = frozenset({"unscale_"})
MODE_CALLS = frozenset({"eval", "train"})
# A helper of another file named like these words zeroes gradients (`reset_grad()`).
_ZEROING_WORDS = frozenset({"zero", "zeros", "reset", "clear"})
_GRAD_WORDS = frozenset({"grad", "grads", "gradient", "gradients"})
# Wrappers that hold the same module: `DataParallel(model)` trains `model`.
_MODULE_WRAPPERS = frozenset(
    {"DataParallel", "DistributedDataParallel", "DDP", "compile", "FSDP", "to", "cuda", "cpu"}
)
# Receivers through which a clip call is not torch's (they unscale and sync themselves).
_CLIP_OWNERS = frozenset(
    {"accelerator", "fabric", "engine", "trainer", "deepspeed", "model_engine"}
)


@dataclass(frozen=True)
class StepEvent:
    """One thing a training step does, where it sits, and what it acts on (module docstring)."""

    kind: str
    node: cst.CSTNode
    receiver: str | None
    guards: tuple
    chain: tuple = ()
    scaled: bool = False
    optimizer: str | None = None
    loop: cst.CSTNode | None = None
    depth: int = 0

    def within(self, loop: cst.CSTNode) -> bool:
        """Whether the event sits in the body of ``loop``."""
        return any(node is loop and branch == LOOP_BODY for node, branch in self.guards)

    def loops(self) -> list:
        """The loops whose bodies hold the event, innermost first."""
        return [node for node, branch in reversed(self.guards) if branch == LOOP_BODY]


def compatible(first: StepEvent, second: StepEvent) -> bool:
    """Whether both events can run in one pass: no ``if`` sends them down different branches."""
    branches = {id(node): branch for node, branch in first.guards}
    for node, branch in second.guards:
        other = branches.get(id(node))
        if other is not None and other != branch:
            return False
    return True


def runs_whenever(first: StepEvent, second: StepEvent) -> bool:
    """Whether ``first`` runs in every pass in which ``second`` runs (its guards are a prefix)."""
    if len(first.guards) > len(second.guards):
        return False
    return all(a[0] is b[0] and a[1] == b[1] for a, b in zip(first.guards, second.guards))


def loop_runs(events: list[StepEvent], loop: cst.CSTNode) -> list[tuple[int, int]]:
    """``(start, end)`` index ranges of the passes of ``loop`` in ``events`` (end exclusive)."""
    runs = []
    start = None
    for index, event in enumerate(events):
        inside = event.within(loop)
        if inside and start is None:
            start = index
        elif not inside and start is not None:
            runs.append((start, index))
            start = None
    if start is not None:
        runs.append((start, len(events)))
    return runs


def enclosing_run(events: list[StepEvent], index: int, loop: cst.CSTNode) -> tuple[int, int]:
    """The pass of ``loop`` that holds ``events[index]``."""
    start = index
    while start > 0 and events[start - 1].within(loop):
        start -= 1
    end = index + 1
    while end < len(events) and events[end].within(loop):
        end += 1
    return start, end


def cyclic_after(events: list[StepEvent], index: int, run: tuple[int, int]):
    """The events after ``events[index]`` in its pass, then those of the next pass up to it."""
    start, end = run
    yield from ((i, events[i], False) for i in range(index + 1, end))
    yield from ((i, events[i], True) for i in range(start, index))


def cyclic_before(events: list[StepEvent], index: int, run: tuple[int, int]):
    """The events before ``events[index]`` in its pass, nearest first, then the previous pass."""
    start, end = run
    yield from ((i, events[i], False) for i in range(index - 1, start - 1, -1))
    yield from ((i, events[i], True) for i in range(end - 1, index, -1))


_OPTIMIZER_CLASS_WORDS = frozenset(
    {"sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam"}
    | {"lbfgs", "lion", "lamb", "adafactor", "optim", "optimizer", "optimiser"}
)
#: Calls whose result is a new tensor, with its own ``.grad`` (none yet).
FRESH_TENSOR_CALLS = frozenset(
    {"detach", "clone", "tensor", "zeros", "ones", "empty", "full", "rand", "randn", "randint"}
    | {"zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like"}
)


def builds_optimizer(call: cst.Call) -> bool:
    """``torch.optim.SGD(...)``, ``AdamW(...)``, ``build_optimizer(...)``."""
    name = callee_last(call) or ""
    words = {name.lower(), *identifier_words(name)}
    return bool(words & _OPTIMIZER_CLASS_WORDS)


def makes_new_tensor(expr: cst.BaseExpression) -> bool:
    """``x.detach().clone()``, ``codes.detach().requires_grad_()``, ``torch.zeros(...)``.

    Somewhere along the call chain a new tensor is made, so what the
    expression gives is not a tensor that already had a gradient.
    """
    node = expr
    while node is not None:
        if isinstance(node, cst.Call):
            if callee_last(node) in FRESH_TENSOR_CALLS:
                return True
            node = node.func.value if isinstance(node.func, cst.Attribute) else None
        elif isinstance(node, cst.Attribute):
            node = node.value
        else:
            return False
    return False


def is_optimizer_name(key: str | None) -> bool:
    """``optimizer``, ``self.opt_g``, ``optimizerD``: the last name reads as an optimizer."""
    if not key:
        return False
    words = identifier_words(key.rsplit(".", 1)[-1])
    return any(word in OPTIMIZER_WORDS or word.startswith("optim") for word in words)


def is_scaler_name(key: str | None) -> bool:
    """``scaler``, ``self.grad_scaler``: an AMP gradient scaler."""
    if not key:
        return False
    return bool(set(identifier_words(key.rsplit(".", 1)[-1])) & SCALER_WORDS)


def names_gradient_zeroing(name: str) -> bool:
    """``reset_grad``, ``clear_grads``, ``zero_gradients``: a helper that zeroes gradients."""
    words = set(identifier_words(name))
    return bool(words & _ZEROING_WORDS and words & _GRAD_WORDS)


def step_events(context: FileContext, owner: cst.CSTNode) -> list[StepEvent]:
    """The events of ``owner`` (a function, or the module body) in execution order.

    Nested functions and classes are not entered (a closure runs when it is
    called, not where it is defined).  Cached per file.
    """
    cache = context.semantics.cache
    key = ("steps.events", owner)
    found = cache.get(key)
    if found is None:
        builder = _Flattener(context)
        if isinstance(owner, cst.FunctionDef):
            builder.function(owner, {}, (), (), 0, frozenset({owner}))
        else:
            builder.block(_block(owner), _Frame(context, None, {}), (), (), 0, frozenset())
        found = builder.events
        cache[key] = found
    return found


def flattened_owners(context: FileContext) -> list[cst.CSTNode]:
    """Every function of the file, and the module (for top-level scripts)."""
    owners: list[cst.CSTNode] = [context.module]
    stack: list[cst.CSTNode] = [context.module]
    while stack:
        node = stack.pop()
        for body in _suites_of(node):
            for statement in body:
                if isinstance(statement, cst.FunctionDef):
                    owners.append(statement)
                if isinstance(statement, cst.BaseCompoundStatement):
                    stack.append(statement)
    return owners


# -- flattening ------------------------------------------------------------------


class _Frame:
    """One function being flattened: its receiver substitutions and local aliases."""

    def __init__(self, context: FileContext, function, env: dict[str, str]) -> None:
        self.context = context
        self.function = function
        self.env = env
        self._aliases: dict[str, str | None] | None = None

    def key(self, expr: cst.BaseExpression | None, hops: int = 3) -> str | None:
        """What ``expr`` denotes, through parameters, aliases and wrappers."""
        if expr is None:
            return None
        if isinstance(expr, cst.Call):
            last = callee_last(expr)
            if last == "super":
                return self.env.get("self", "self")
            if last in _MODULE_WRAPPERS:
                if isinstance(expr.func, cst.Attribute) and last in ("to", "cuda", "cpu"):
                    return self.key(expr.func.value, hops)
                positional = [a.value for a in expr.args if a.keyword is None and not a.star]
                if positional:
                    return self.key(positional[0], hops)
            return None
        name = dotted_name(expr)
        if name is None:
            return None
        parts = name.split(".")
        while len(parts) > 1 and parts[-1] == "module":
            parts.pop()
        head, rest = parts[0], parts[1:]
        if head in self.env:
            head_key = self.env[head]
        else:
            alias = self._alias(head) if hops > 0 else None
            head_key = alias if alias is not None else head
        return ".".join([head_key, *rest])

    def _alias(self, name: str) -> str | None:
        if self._aliases is None:
            self._aliases = {}
            if self.function is not None:
                from torchlint.semantics.model import iter_assignments

                seen: dict[str, set] = {}
                for target, value in iter_assignments(self.function):
                    if isinstance(target, cst.Name) and _wraps_itself(value, target.value):
                        continue  # `model = fleet.distributed_model(model)`: the same model
                    if isinstance(target, cst.Name):
                        seen.setdefault(target.value, set()).add(
                            self.key(value, 0) if _aliasable(value) else None
                        )
                for local, keys in seen.items():
                    keys.discard(local)
                    if len(keys) == 1 and None not in keys:
                        self._aliases[local] = next(iter(keys))
        return self._aliases.get(name)


def _wraps_itself(value: cst.BaseExpression, name: str) -> bool:
    if not isinstance(value, cst.Call):
        return False
    positional = [a.value for a in value.args if a.keyword is None and not a.star]
    return bool(positional) and isinstance(positional[0], cst.Name) and positional[0].value == name


def _aliasable(value: cst.BaseExpression) -> bool:
    if isinstance(value, (cst.Name, cst.Attribute)):
        return dotted_name(value) is not None
    if isinstance(value, cst.Call):
        return callee_last(value) in _MODULE_WRAPPERS
    return False


class _Flattener:
    def __init__(self, context: FileContext) -> None:
        self.context = context
        self.model = context.semantics
        self.events: list[StepEvent] = []
        scopes = self.model.cache.get("steps.call_scopes")
        if scopes is None:
            scopes = {id(call): scope for call, scope in call_sites(self.context)}
            self.model.cache["steps.call_scopes"] = scopes
        self._scopes = scopes

    def function(self, fn, env, guards, chain, depth, visiting) -> None:
        frame = _Frame(self.context, fn, env)
        self.block(_block(fn), frame, guards, chain, depth, visiting, loops=())

    def block(self, statements, frame, guards, chain, depth, visiting, loops=()) -> None:
        for statement in statements:
            self.statement(statement, frame, guards, chain, depth, visiting, loops)

    def statement(self, node, frame, guards, chain, depth, visiting, loops) -> None:
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self.small(small, node, frame, guards, chain, depth, visiting, loops)
            return
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return
        args = (frame, guards, chain, depth, visiting)
        if isinstance(node, cst.If):
            self.expression(node.test, *args)
            self.block(_block(node), frame, (*guards, (node, 0)), chain, depth, visiting, loops)
            if node.orelse is not None:
                branch = (*guards, (node, 1))
                if isinstance(node.orelse, cst.If):
                    self.statement(node.orelse, frame, branch, chain, depth, visiting, loops)
                else:
                    self.block(_block(node.orelse), frame, branch, chain, depth, visiting, loops)
            return
        if isinstance(node, (cst.For, cst.While)):
            self.expression(node.iter if isinstance(node, cst.For) else node.test, *args)
            inner = (*guards, (node, LOOP_BODY))
            self.block(_block(node), frame, inner, chain, depth, visiting, (*loops, node))
            if node.orelse is not None:
                self.block(
                    _block(node.orelse), frame, (*guards, (node, 1)), chain, depth, visiting, loops
                )
            return
        if isinstance(node, cst.With):
            for item in node.items:
                self.expression(item.item, *args)
            self.block(_block(node), frame, guards, chain, depth, visiting, loops)
            return
        if isinstance(node, cst.Try) or type(node).__name__ == "TryStar":
            self.block(_block(node), frame, guards, chain, depth, visiting, loops)
            for index, handler in enumerate(node.handlers):
                self.block(
                    _block(handler),
                    frame,
                    (*guards, (node, index + 1)),
                    chain,
                    depth,
                    visiting,
                    loops,
                )
            if node.orelse is not None:
                self.block(_block(node.orelse), frame, guards, chain, depth, visiting, loops)
            if node.finalbody is not None:
                self.block(_block(node.finalbody), frame, guards, chain, depth, visiting, loops)
            return
        if type(node).__name__ == "Match":
            self.expression(node.subject, *args)
            for index, case in enumerate(node.cases):
                self.block(
                    _block(case), frame, (*guards, (node, index)), chain, depth, visiting, loops
                )
            return
        for child in iter_children(node):
            if isinstance(child, cst.BaseSuite):
                self.block(_block(child), frame, guards, chain, depth, visiting, loops)

    def small(self, small, line, frame, guards, chain, depth, visiting, loops) -> None:
        args = (frame, guards, chain, depth, visiting)
        if isinstance(small, (cst.Return, cst.Raise)):
            value = getattr(small, "value", None) if isinstance(small, cst.Return) else small.exc
            if value is not None:
                self.expression(value, *args)
            if depth == 0:
                self.events.append(StepEvent("exit", small, None, guards, chain, depth=depth))
            return
        if isinstance(small, cst.Break):
            loop = loops[-1] if loops else None
            self.events.append(
                StepEvent("exit", small, None, guards, chain, loop=loop, depth=depth)
            )
            return
        for child in iter_children(small):
            self.expression(child, *args)
        if isinstance(small, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
            targets = (
                [t.target for t in small.targets]
                if isinstance(small, cst.Assign)
                else [small.target]
            )
            for target in targets:
                if isinstance(target, cst.Attribute) and target.attr.value == "grad":
                    value = getattr(small, "value", None)
                    zeroing = isinstance(value, cst.Name) and value.value == "None"
                    zeroing = zeroing or (
                        isinstance(value, cst.Call) and callee_last(value) in ("zeros_like",)
                    )
                    kind = "zero" if zeroing else "grad-write"
                    self.events.append(
                        StepEvent(kind, small, frame.key(target.value), guards, chain, depth=depth)
                    )
        if isinstance(small, cst.Del):
            for element in _del_targets(small.target):
                if isinstance(element, cst.Attribute) and element.attr.value == "grad":
                    self.events.append(
                        StepEvent(
                            "zero", small, frame.key(element.value), guards, chain, depth=depth
                        )
                    )

    def expression(self, expr, frame, guards, chain, depth, visiting) -> None:
        """Calls in ``expr`` in evaluation order: receivers and arguments before the call."""
        if isinstance(expr, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            return
        if isinstance(expr, cst.IfExp):
            # `a() if c else b()`: the test always runs, each arm on its own branch
            self.expression(expr.test, frame, guards, chain, depth, visiting)
            for branch, arm in enumerate((expr.body, expr.orelse)):
                self.expression(arm, frame, (*guards, (expr, branch)), chain, depth, visiting)
            return
        for child in iter_children(expr):
            self.expression(child, frame, guards, chain, depth, visiting)
        if isinstance(expr, cst.Call):
            self.call(expr, frame, guards, chain, depth, visiting)

    def call(self, call, frame, guards, chain, depth, visiting) -> None:
        target = self._inlinable(call)
        if target is not None and target not in visiting and depth < MAX_INLINE_DEPTH:
            env = self._bindings(call, target, frame)
            self.function(target, env, guards, (*chain, call), depth + 1, visiting | {target})
            return
        event = self.classify(call, frame, guards, chain, depth)
        if event is not None:
            self.events.append(event)

    def _inlinable(self, call: cst.Call):
        from torchlint.semantics.callgraph import callee_function

        scope = self._scopes.get(id(call))
        if scope is None:
            return None
        callee = resolve_callee(self.context, call, scope)
        if callee.kind not in ("function", "method"):
            return None
        return callee_function(self.context, callee)

    def _bindings(self, call, target, frame) -> dict[str, str]:
        env: dict[str, str] = {}
        params = [p.name.value for p in (*target.params.posonly_params, *target.params.params)]
        params += [p.name.value for p in target.params.kwonly_params]
        for name in params:
            if name in ("self", "cls"):
                continue
            value = bound_argument(self.context, call, target, name)
            key = frame.key(value) if value is not None else None
            if key is not None:
                env[name] = key
        if params and params[0] == "self" and isinstance(call.func, cst.Attribute):
            receiver = frame.key(call.func.value)
            if receiver is not None:
                env["self"] = receiver
        return env

    def classify(self, call, frame, guards, chain, depth) -> StepEvent | None:
        """The event ``call`` is, when it is not a call into this file."""
        last = callee_last(call)
        if last is None:
            return None
        func = call.func
        receiver_expr = func.value if isinstance(func, cst.Attribute) else None
        receiver = frame.key(receiver_expr) if receiver_expr is not None else None

        def make(kind, **extra):
            return StepEvent(kind, call, receiver, guards, chain, depth=depth, **extra)

        if last in BACKWARD_CALLS and (receiver_expr is not None or last != "backward"):
            scaled = isinstance(receiver_expr, cst.Call) and callee_last(receiver_expr) == "scale"
            scaler = None
            if scaled and isinstance(receiver_expr.func, cst.Attribute):
                scaler = frame.key(receiver_expr.func.value)
            return StepEvent("backward", call, scaler, guards, chain, scaled=scaled, depth=depth)
        if last in STEP_CALLS and receiver_expr is not None:
            positional = [a.value for a in call.args if a.keyword is None and not a.star]
            if is_scaler_name(receiver):
                optimizer = frame.key(positional[0]) if positional else None
                return make("step", optimizer=optimizer, scaled=True)
            if is_optimizer_name(receiver):
                return make("step", optimizer=receiver)
            return None
        if last in ZERO_GRAD_CALLS or any(
            arg.keyword is not None and arg.keyword.value == "zero_grad" for arg in call.args
        ):
            return make("zero")
        if last in CLIP_CALLS:
            owner = dotted_name(receiver_expr) if receiver_expr is not None else None
            owner_words = set(identifier_words(owner.rsplit(".", 1)[-1])) if owner else set()
            qualified = self.model.qualified_name(func) or ""
            if qualified.startswith("torch.") or (
                owner is not None and owner.endswith("utils") and not owner_words & _CLIP_OWNERS
            ):
                return make("clip")
            if receiver_expr is None and qualified:
                return make("clip")
            return None
        if last in UNSCALE_CALLS and receiver_expr is not None:
            positional = [a.value for a in call.args if a.keyword is None and not a.star]
            return make("unscale", optimizer=frame.key(positional[0]) if positional else None)
        if last in MODE_CALLS and receiver_expr is not None:
            return self._mode_event(call, last, make)
        if last not in BACKWARD_CALLS and names_gradient_zeroing(last):
            return make("zero")
        return None

    def _mode_event(self, call, last, make) -> StepEvent | None:
        if last == "eval":
            return make("eval") if not call.args else None
        if not call.args:
            return make("train")
        if len(call.args) != 1 or call.args[0].star:
            return None
        arg = call.args[0]
        if arg.keyword is not None and arg.keyword.value != "mode":
            return None
        value = arg.value
        if isinstance(value, cst.Name) and value.value in ("True", "False"):
            return make("train" if value.value == "True" else "eval")
        return make("mode")


def _del_targets(target):
    if isinstance(target, (cst.Tuple, cst.List)):
        return [element.value for element in target.elements]
    return [target]


def _block(node) -> list:
    if isinstance(node, cst.Module):
        return list(node.body)
    body = getattr(node, "body", node)
    if isinstance(body, cst.IndentedBlock):
        return list(body.body)
    if isinstance(body, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=body.body)]
    if isinstance(body, (list, tuple)):
        return list(body)
    return []


def _suites_of(node):
    if isinstance(node, cst.Module):
        yield node.body
        return
    for name in ("body", "orelse", "finalbody"):
        value = getattr(node, name, None)
        if isinstance(value, cst.IndentedBlock):
            yield value.body
        elif isinstance(value, cst.BaseCompoundStatement):
            yield (value,)
        elif (
            value is not None
            and hasattr(value, "body")
            and isinstance(getattr(value, "body", None), cst.IndentedBlock)
        ):
            yield value.body.body
    for handler in getattr(node, "handlers", ()) or ():
        if isinstance(handler.body, cst.IndentedBlock):
            yield handler.body.body
    for case in getattr(node, "cases", ()) or ():
        if isinstance(case.body, cst.IndentedBlock):
            yield case.body.body
