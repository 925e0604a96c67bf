"""Where a value comes from: the inputs of its function, constants, random draws.

``value_sources(expr)`` answers with the kinds of leaves the value is built
from: ``INPUT`` (parameters, ``self`` state, module outputs: things the
autograd graph can reach), ``CONSTANT`` (literals, ``torch.tensor(0.5)``,
``torch.zeros(...)``, ``x.new_zeros(())``, shapes), ``RANDOM``
(``torch.rand``...), ``DETACHED`` (``.item()``, ``.detach()``, ``float(x)``:
data whose graph was cut), ``FRESH_LEAF`` and ``UNKNOWN``.  A tensor with no
``INPUT`` or ``UNKNOWN`` leaf carries no gradient to anything the function was
given.

A tensor made with ``requires_grad=True`` is a leaf autograd differentiates,
but whether it is something training can reach depends on where it is made
and what it holds.  ``Variable(x, requires_grad=True)`` or
``torch.randn(3, requires_grad=True)`` at module level is a variable of the
program (``INPUT``).  ``torch.tensor(0.0, requires_grad=True)`` made inside
the function being asked about, from literals only, and never handed to an
optimizer, read back through ``.grad``/``.data`` or put in a parameter list,
is a ``FRESH_LEAF``: a new constant on every call that nothing holds, so
``.backward()`` runs without error and still updates nothing -- the
fake-gradient stub ``return torch.tensor(0.0, requires_grad=True)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchlint.lazy import lazy_module
from torchlint.semantics.callgraph import resolve_callee
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.model import assigned_targets
from torchlint.semantics.names import dotted_name
from torchlint.semantics.values import Scope, flow_of, lookup, scope_of, self_attribute

cst = lazy_module("libcst", globals(), "cst")

if TYPE_CHECKING:
    from torchlint.context import FileContext

INPUT = "input"
CONSTANT = "constant"
RANDOM = "random"
DETACHED = "detached"
UNKNOWN = "unknown"
FRESH_LEAF = "fresh leaf"
NO_GRADIENT = frozenset({CONSTANT, RANDOM, DETACHED, FRESH_LEAF})

_FACTORIES = frozenset(
    [
        "tensor",
        "as_tensor",
        "scalar_tensor",
        "zeros",
        "ones",
        "full",
        "empty",
        "eye",
        "arange",
        "linspace",
        "logspace",
        "zeros_like",
        "ones_like",
        "full_like",
        "empty_like",
        "from_numpy",
        "Tensor",
        "FloatTensor",
        "LongTensor",
    ]
)
_RANDOM = frozenset(
    [
        "rand",
        "randn",
        "randint",
        "rand_like",
        "randn_like",
        "randint_like",
        "bernoulli",
        "normal",
        "multinomial",
        "randperm",
        "poisson",
    ]
)
# The draws `value_sources` rates RANDOM (for cheap stages that mirror it).
RANDOM_DRAWS = _RANDOM
# Wrappers that make a leaf of their data without copying it out of the graph.
_LEAF_WRAPPERS = frozenset(["Variable"])
_NEW_FACTORIES = frozenset(["new_zeros", "new_ones", "new_full", "new_empty", "new_tensor"])
_CUTTING_METHODS = frozenset(["detach", "item", "tolist", "numpy"])
# Operations whose result is an index, a truth value or a step: no gradient passes.
_INDEX_OPERATIONS = frozenset(
    [
        "argsort",
        "argmax",
        "argmin",
        "round",
        "floor",
        "ceil",
        "sign",
        "long",
        "int",
        "bool",
        "eq",
        "ne",
        "gt",
        "ge",
        "lt",
        "le",
        "searchsorted",
        "bucketize",
    ]
)
_SHAPE_METHODS = frozenset(["size", "dim", "numel", "nelement", "ndimension"])
_SHAPE_ATTRIBUTES = frozenset(["shape", "ndim", "dtype", "device"])
_PYTHON_CASTS = frozenset({"float", "int", "bool", "len"})
_MAX_DEPTH = 16


def value_sources(
    context: FileContext,
    expr: cst.BaseExpression,
    scope: Scope | None = None,
    *,
    through_indices: bool = False,
) -> frozenset:
    """The kinds of leaves ``expr`` is computed from (see the module docstring).

    With ``through_indices``, index-valued operations cut the graph as
    ``.detach()`` does: ``argsort``/``argmax``/``topk(...).indices``, comparisons,
    ``round``/``floor``/``sign`` and integer casts have no gradient to pass on.
    """
    if scope is None:
        scope = scope_of(context, expr)
    if scope is None:
        return frozenset({UNKNOWN})
    return _Sources(context, scope.flow, through_indices).of(expr, scope, 0)


def differentiable_value(
    context: FileContext, expr: cst.BaseExpression, scope: Scope | None = None
) -> bool:
    """Whether some gradient can flow from ``expr`` back to the inputs: not only
    constants and cut graphs, and not only indices (``preds.argsort()``, ``a == b``)."""
    found = value_sources(context, expr, scope, through_indices=True)
    return not (found and found <= NO_GRADIENT)


def carries_no_gradient(
    context: FileContext, expr: cst.BaseExpression, scope: Scope | None = None
) -> bool:
    """Whether ``expr`` is built only from constants, random draws and cut graphs."""
    found = value_sources(context, expr, scope)
    return bool(found) and found <= NO_GRADIENT


def is_fresh_leaf(
    context: FileContext, expr: cst.BaseExpression, scope: Scope | None = None
) -> bool:
    """Whether ``expr`` is a fake-gradient constant: built from a ``FRESH_LEAF`` and
    nothing that reaches the inputs (``torch.tensor(0.0, requires_grad=True)``)."""
    found = value_sources(context, expr, scope)
    return FRESH_LEAF in found and found <= NO_GRADIENT


class _Sources:
    def __init__(self, context: FileContext, root, through_indices: bool = False) -> None:
        self.context = context
        self.model = context.semantics
        self.through_indices = through_indices
        # A leaf is fresh only relative to the function asked about: the answers
        # depend on it, so the memo is kept per asking flow.
        self.root = root
        memo_name = "value_sources_through_indices" if through_indices else "value_sources"
        self.memo: dict = self.model.cache.setdefault(memo_name, {}).setdefault(root, {})

    def of(self, expr, scope, depth) -> frozenset:
        if expr is None:
            return frozenset()
        if depth > _MAX_DEPTH:
            return frozenset({UNKNOWN})
        key = (expr, scope.order)
        found = self.memo.get(key)
        if found is not None:
            return found
        self.memo[key] = frozenset()
        result = self._compute(expr, scope, depth + 1)
        self.memo[key] = result
        return result

    def _union(self, exprs, scope, depth) -> frozenset:
        result: frozenset = frozenset()
        for expr in exprs:
            result |= self.of(expr, scope, depth)
        return result

    def _compute(self, expr, scope, depth) -> frozenset:
        if isinstance(
            expr, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.FormattedString)
        ):
            return frozenset({CONSTANT})
        if isinstance(expr, cst.Name):
            return self._name(expr, scope, depth)
        if isinstance(expr, cst.Attribute):
            if expr.attr.value in _SHAPE_ATTRIBUTES:
                return frozenset({CONSTANT})
            if expr.attr.value == "data":
                return self._cut(self.of(expr.value, scope, depth))
            qualified = self.model.qualified_name(expr)
            if qualified is not None and not isinstance(expr.value, cst.Call):
                return frozenset({CONSTANT})
            if self_attribute(expr) is not None:
                return frozenset({INPUT})
            return self.of(expr.value, scope, depth)
        if isinstance(expr, cst.Call):
            return self._call(expr, scope, depth)
        if isinstance(expr, cst.Subscript):
            return self.of(expr.value, scope, depth)
        if isinstance(expr, cst.BinaryOperation):
            return self._union((expr.left, expr.right), scope, depth)
        if isinstance(expr, cst.UnaryOperation):
            return self.of(expr.expression, scope, depth)
        if isinstance(expr, cst.Comparison):
            found = self._union(
                [expr.left, *(c.comparator for c in expr.comparisons)], scope, depth
            )
            return self._cut(found) if self.through_indices else found
        if isinstance(expr, cst.BooleanOperation):
            return self._union((expr.left, expr.right), scope, depth)
        if isinstance(expr, cst.IfExp):
            return self._union((expr.body, expr.orelse), scope, depth)
        if isinstance(expr, (cst.List, cst.Dict, cst.Set)) and not expr.elements:
            return frozenset({UNKNOWN})  # filled later (`losses.append(...)`)
        if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
            return self._union(
                [e.value for e in expr.elements if not isinstance(e, cst.StarredElement)],
                scope,
                depth,
            ) or frozenset({CONSTANT})
        return frozenset({UNKNOWN})

    def _configuration(self, expr, scope) -> bool:
        """A parameter that holds a Python value (``beta: float``, ``eps=1e-6``): configuration.

        Only a name bound by its function's parameter list alone, and rated
        no tensor by its annotation or default.
        """
        from torchlint.semantics.tensors import parameter_confidence

        if isinstance(expr, (cst.Integer, cst.Float)):
            return True
        if not isinstance(expr, cst.Name):
            return False
        bindings, found_scope = lookup(self.context, expr.value, scope)
        return bool(bindings) and all(
            binding.kind == "param"
            and binding.param is not None
            and parameter_confidence(self.context, binding.param, found_scope.flow.function)
            == Confidence.NONE
            for binding in bindings
        )

    @staticmethod
    def _cut(found: frozenset) -> frozenset:
        if INPUT in found or UNKNOWN in found:
            return (found - {INPUT, UNKNOWN}) | {DETACHED}
        return found

    def _leaf(self, data: frozenset, scope) -> frozenset:
        """A ``requires_grad=True`` leaf made of ``data`` (see the module docstring)."""
        if (
            data
            and data <= {CONSTANT}
            and scope.flow is self.root
            and scope.flow.function is not None
        ):
            return frozenset({FRESH_LEAF})
        return frozenset({INPUT})  # a variable of the program, or made from data

    def _name(self, expr, scope, depth) -> frozenset:
        if expr.value in ("None", "True", "False"):
            return frozenset({CONSTANT})
        bindings, found_scope = lookup(self.context, expr.value, scope)
        if not bindings:
            return frozenset({UNKNOWN})
        result: frozenset = frozenset()
        if expr.value in _mutated_names(self.context, found_scope.flow):
            # `margin = torch.zeros_like(p); margin[t] = p[t]`: filled in place later.
            result |= {UNKNOWN}
        for binding in bindings:
            value_scope = found_scope.at(binding)
            if binding.kind == "param":
                result |= {INPUT}
            elif binding.kind == "unpack" and binding.value is not None:
                result |= self._element(binding.value, binding.index, value_scope, depth)
            elif binding.kind == "assign" and binding.value is not None:
                if _is_leaf_call(self.model, binding.value) and expr.value in _trained_names(
                    self.context, found_scope.flow
                ):
                    # `w = torch.zeros(3, requires_grad=True); opt = SGD([w])`: trained here.
                    result |= {INPUT}
                    continue
                result |= self.of(binding.value, value_scope, depth)
            elif binding.kind == "augment":
                result |= self._name(cst.Name(binding.name), value_scope, depth)
                result |= self.of(binding.value, value_scope, depth)
            elif binding.kind == "loop":
                result |= self.of(binding.value, value_scope, depth)
            else:
                result |= {UNKNOWN}
        return result

    def _element(self, value, index, scope, depth) -> frozenset:
        """Sources of element ``index`` of ``value``, through ``return (a, b, c)`` of this file."""
        if isinstance(value, cst.Call) and index is not None:
            callee = resolve_callee(self.context, value, scope)
            if callee.kind in ("function", "method") and callee.function is not None:
                result: frozenset = frozenset()
                for statement, return_scope in flow_of(self.context, callee.function).returns:
                    returned = statement.value
                    if isinstance(returned, cst.Tuple) and index < len(returned.elements):
                        element = returned.elements[index]
                        if isinstance(element, cst.StarredElement):
                            return frozenset({UNKNOWN})
                        result |= self.of(element.value, return_scope, depth)
                    else:
                        return self.of(value, scope, depth)
                if result:
                    return result
        return self.of(value, scope, depth)

    def _call(self, call, scope, depth) -> frozenset:
        func = call.func
        args = [arg.value for arg in call.args]
        qualified = self.model.qualified_name(func)
        if qualified is not None and qualified.startswith("torch."):
            last = qualified.rsplit(".", 1)[-1]
            if last == "Parameter":
                return frozenset({INPUT})
            if last in _FACTORIES:
                data = self._cut(self._union(args, scope, depth))
                if _requires_grad(call) and DETACHED not in data:
                    return self._leaf(data, scope)
                data_args = [arg.value for arg in call.args if arg.keyword is None]
                if data_args and all(self._configuration(arg, scope) for arg in data_args):
                    # `torch.as_tensor(beta)` of a `beta: float` hyper-parameter.
                    return frozenset({CONSTANT})
                return data | {CONSTANT}
            if self.through_indices and last in _INDEX_OPERATIONS:
                return self._cut(self._union(args, scope, depth))
            if last in _RANDOM:
                if _requires_grad(call):
                    return self._leaf(frozenset({CONSTANT}), scope)
                return frozenset({RANDOM})
            if last in _LEAF_WRAPPERS:
                data = self._union(args, scope, depth)
                if _requires_grad(call):
                    return self._leaf(data, scope)
                return data or frozenset({UNKNOWN})
        if isinstance(func, cst.Attribute) and qualified is None:
            method = func.attr.value
            receiver = self.of(func.value, scope, depth)
            if method in _NEW_FACTORIES:
                return self._cut(self._union(args, scope, depth)) | {CONSTANT}
            if method in _CUTTING_METHODS or (self.through_indices and method in _INDEX_OPERATIONS):
                return self._cut(receiver)
            if method in _SHAPE_METHODS:
                return frozenset({CONSTANT})
            if method in ("zero_", "fill_"):
                return frozenset({CONSTANT})
            if method == "requires_grad_" and not _false_argument(call):
                # `torch.tensor(0.0).requires_grad_()`: the same leaf as requires_grad=True.
                return receiver if DETACHED in receiver else self._leaf(receiver, scope)
            return receiver | self._union(args, scope, depth)
        name = dotted_name(func)
        if name in _PYTHON_CASTS:
            if name == "len":
                return frozenset({CONSTANT})
            return self._cut(self._union(args, scope, depth))
        if name in ("list", "dict", "set") and not args:
            return frozenset({UNKNOWN})
        callee = resolve_callee(self.context, call, scope)
        if callee.kind in ("module", "torch_module") or (
            callee.kind == "method" and self_attribute(func)
        ):
            # A module's output depends on its parameters.
            return frozenset({INPUT}) | self._union(args, scope, depth)
        found = self._union(args, scope, depth)
        if callee.kind in ("unknown", "external") and qualified is None:
            found |= self.of(func, scope, depth)
        if not found:
            return frozenset({UNKNOWN})
        return found


def _is_leaf_call(model, value: cst.BaseExpression) -> bool:
    """``torch.zeros(3, requires_grad=True)`` or ``torch.zeros(3).requires_grad_()``,
    possibly followed by ``.to(...)``/``.cuda()``."""
    marked = False
    while (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and model.qualified_name(value.func) is None
    ):
        marked = marked or (
            value.func.attr.value == "requires_grad_" and not _false_argument(value)
        )
        value = value.func.value
    if not isinstance(value, cst.Call) or not (marked or _requires_grad(value)):
        return False
    qualified = model.qualified_name(value.func) or ""
    return qualified.startswith("torch.") and qualified.rsplit(".", 1)[-1] in (
        _FACTORIES | _RANDOM | _LEAF_WRAPPERS
    )


def _false_argument(call: cst.Call) -> bool:
    """``x.requires_grad_(False)``."""
    return bool(call.args) and dotted_name(call.args[0].value) == "False"


_TRAINING_PREFIXES = ("torch.optim.", "torch.autograd.")


def _trained_names(context, flow) -> frozenset:
    """Names a function trains or differentiates against: ``w.grad``, ``w.data``,
    ``[w, b]``/``{"params": w}`` (parameter lists), ``SGD(w)``, ``autograd.grad(y, x)``."""
    model = context.semantics
    key = ("trained_names", flow.owner)
    found = model.cache.get(key)
    if found is not None:
        return found
    names = set()
    stack = [flow.owner.body] if flow.function is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Attribute) and node.attr.value in ("grad", "data"):
            if isinstance(node.value, cst.Name):
                names.add(node.value.value)
        elif isinstance(node, (cst.List, cst.Set)):
            names.update(e.value.value for e in node.elements if isinstance(e.value, cst.Name))
        elif isinstance(node, cst.Dict):
            names.update(
                e.value.value
                for e in node.elements
                if isinstance(e, cst.DictElement) and isinstance(e.value, cst.Name)
            )
        elif isinstance(node, cst.Call):
            qualified = model.qualified_name(node.func) or ""
            if qualified.startswith(_TRAINING_PREFIXES):
                names.update(a.value.value for a in node.args if isinstance(a.value, cst.Name))
        stack.extend(node.children)
    found = frozenset(names)
    model.cache[key] = found
    return found


def _requires_grad(call: cst.Call) -> bool:
    return any(
        arg.keyword is not None
        and arg.keyword.value == "requires_grad"
        and isinstance(arg.value, cst.Name)
        and arg.value.value == "True"
        for arg in call.args
    )


def _mutated_names(context, flow) -> frozenset:
    """Names a function fills in place: ``x[i] = v``, ``x[i] += v``, ``x.copy_(v)``."""
    model = context.semantics
    key = ("mutated_names", flow.owner)
    found = model.cache.get(key)
    if found is not None:
        return found
    names = set()
    for statement in flow.order_of:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            targets = assigned_targets(small)
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                func = small.value.func
                if (
                    isinstance(func, cst.Attribute)
                    and func.attr.value.endswith("_")
                    and isinstance(func.value, cst.Name)
                ):
                    names.add(func.value.value)
            for target in targets:
                if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
                    names.add(target.value.value)
    found = frozenset(names)
    model.cache[key] = found
    return found
