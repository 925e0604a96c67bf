"""Values known to lie in a small interval: outputs of squashing functions.

``bounds(expr)`` answers with a :class:`Bound` (an interval, where it comes
from, and a confidence) or None.  Bounded producers are ``sigmoid``,
``tanh``, ``softmax``, ``hardsigmoid``/``hardtanh``, ``clamp`` with literal
limits, the modules ``nn.Sigmoid``/``nn.Tanh``/..., an ``nn.Sequential``
whose last layer is one of those, and any module, method or function of the
same file whose every return is bounded.  A bound survives reshaping,
indexing, ``detach``/``to``, interpolation, dropout and identity modules,
``cat``/``stack`` of bounded values, scaling and shifting by constants, and
convex blends (``w * p + (1 - w) * q`` with ``w`` in [0, 1]); it is
followed through assignments (``x += ...`` included), tuple unpacking (an
element of a tuple that a function or module of the file returns),
``self.<module>`` attributes and the arguments a file passes to its own
functions.  A constant tensor (``torch.zeros(...)``) is bounded but never
"squashed": on one branch it leaves the other branch's bound as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from torchlint.lazy import lazy_module
from torchlint.semantics.callgraph import (
    bound_argument,
    callee_function,
    callers,
    module_held_by,
    owner_class,
    resolve_callee,
)
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.values import Scope, flow_of, lookup, scope_of

cst = lazy_module("libcst", globals(), "cst")

if TYPE_CHECKING:
    from torchlint.context import FileContext

HIGH, MEDIUM, LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW

_UNIT = (0.0, 1.0)
_SYMMETRIC = (-1.0, 1.0)
# Functions whose output lies in a fixed interval, by qualified name.
BOUNDED_FUNCTIONS = {
    "torch.sigmoid": _UNIT,
    "torch.nn.functional.sigmoid": _UNIT,
    "torch.special.expit": _UNIT,
    "torch.nn.functional.hardsigmoid": _UNIT,
    "torch.softmax": _UNIT,
    "torch.nn.functional.softmax": _UNIT,
    "torch.special.softmax": _UNIT,
    "torch.nn.functional.gumbel_softmax": _UNIT,
    "torch.tanh": _SYMMETRIC,
    "torch.nn.functional.tanh": _SYMMETRIC,
    "torch.nn.functional.hardtanh": _SYMMETRIC,
    "torch.nn.functional.softsign": _SYMMETRIC,
}
BOUNDED_METHODS = {
    "sigmoid": _UNIT,
    "sigmoid_": _UNIT,
    "softmax": _UNIT,
    "tanh": _SYMMETRIC,
    "tanh_": _SYMMETRIC,
}
BOUNDED_MODULES = {
    "Sigmoid": _UNIT,
    "Hardsigmoid": _UNIT,
    "Softmax": _UNIT,
    "Softmax2d": _UNIT,
    "Tanh": _SYMMETRIC,
    "Hardtanh": _SYMMETRIC,
    "Softsign": _SYMMETRIC,
}
_CLAMPS = frozenset({"clamp", "clamp_", "clip", "clip_"})
# Operations that keep a bounded value inside its interval.
_KEEPING_METHODS = frozenset(
    [
        "view",
        "view_as",
        "reshape",
        "reshape_as",
        "flatten",
        "unflatten",
        "unsqueeze",
        "squeeze",
        "permute",
        "transpose",
        "contiguous",
        "clone",
        "detach",
        "float",
        "half",
        "double",
        "bfloat16",
        "to",
        "cuda",
        "cpu",
        "expand",
        "expand_as",
        "repeat",
        "flip",
        "roll",
        "mean",
        "type_as",
        "narrow",
        "select",
        "index_select",
        "gather",
        "masked_select",
    ]
)
_KEEPING_FUNCTIONS = frozenset(
    {
        "torch.nn.functional.interpolate",
        "torch.nn.functional.upsample",
        "torch.nn.functional.avg_pool1d",
        "torch.nn.functional.avg_pool2d",
        "torch.nn.functional.avg_pool3d",
        "torch.nn.functional.max_pool2d",
        "torch.nn.functional.adaptive_avg_pool2d",
        "torch.nn.functional.grid_sample",
        "torch.flatten",
        "torch.reshape",
        "torch.squeeze",
        "torch.unsqueeze",
        "torch.mean",
        "torch.flip",
    }
)
_JOINING_FUNCTIONS = frozenset({"torch.cat", "torch.concat", "torch.concatenate", "torch.stack"})
# Modules whose output lies where their input does.  Dropout rescales the kept
# values by 1 / (1 - p) while training; the value is still the probability map
# it was, and at evaluation dropout is the identity.
_KEEPING_MODULES = frozenset(
    {
        "Dropout",
        "Dropout1d",
        "Dropout2d",
        "Dropout3d",
        "AlphaDropout",
        "FeatureAlphaDropout",
        "Identity",
        "Flatten",
        "Unflatten",
        "Upsample",
        "UpsamplingBilinear2d",
        "UpsamplingNearest2d",
        "PixelShuffle",
        "PixelUnshuffle",
        "AvgPool1d",
        "AvgPool2d",
        "AvgPool3d",
        "MaxPool1d",
        "MaxPool2d",
        "MaxPool3d",
        "AdaptiveAvgPool1d",
        "AdaptiveAvgPool2d",
        "AdaptiveAvgPool3d",
        "AdaptiveMaxPool1d",
        "AdaptiveMaxPool2d",
        "AdaptiveMaxPool3d",
    }
)
# Constant tensors: bounded, but no squash made them (see ``Bound.constant``).
_CONSTANT_FUNCTIONS = {
    "torch.zeros": 0.0,
    "torch.zeros_like": 0.0,
    "torch.ones": 1.0,
    "torch.ones_like": 1.0,
}
_MAX_DEPTH = 16


@dataclass(frozen=True)
class Bound:
    """An interval a value is known to lie in.

    ``origin`` names what bounds it (``torch.sigmoid``, ``nn.Sequential
    ending in nn.Sigmoid``); ``direct`` is False when the interval comes from
    multiplying two varying values (an LSTM's ``i * g``), which rules that
    look for an already-squashed value should not count.  ``constant`` marks
    a constant tensor (``torch.zeros(...)``): not a squashed value either, and
    on one branch of a join it leaves the other branch's bound unchanged
    (``attn = torch.zeros(n, n)`` / ``else: attn = softmax(...)``).
    """

    low: float
    high: float
    origin: str
    confidence: Confidence
    direct: bool = True
    constant: bool = False

    @property
    def in_unit_range(self) -> bool:
        """Inside [-1, 1] (covers both [0, 1] and [-1, 1])."""
        return self.low >= -1.0 and self.high <= 1.0

    def weaker(self, confidence: Confidence) -> Bound:
        """The same bound, with at most ``confidence``."""
        return Bound(
            self.low,
            self.high,
            self.origin,
            min(self.confidence, confidence),
            self.direct,
            self.constant,
        )


def bounds(
    context: FileContext, expr: cst.BaseExpression, scope: Scope | None = None
) -> Bound | None:
    """The interval ``expr`` is known to lie in, or None when it is not known to be bounded.

    ``scope`` is where ``expr`` is evaluated; left out, it is found from the
    walk (so ``expr`` must be a node the walk has reached).
    """
    if scope is None:
        scope = scope_of(context, expr)
    if scope is None:
        return None
    return _BoundAnalysis(context).bound(expr, scope, 0)


def bounded_unit_interval(
    context: FileContext,
    expr: cst.BaseExpression,
    scope: Scope | None = None,
    minimum: Confidence = Confidence.MEDIUM,
) -> Bound | None:
    """A bound inside [0, 1] or [-1, 1] from a squashing output, with at least ``minimum``."""
    found = bounds(context, expr, scope)
    if found is None or not found.in_unit_range or not found.direct:
        return None
    return found if found.confidence >= minimum else None


def _literal(expr: cst.BaseExpression) -> float | None:
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = _literal(expr.expression)
        return -inner if inner is not None else None
    if isinstance(expr, (cst.Integer, cst.Float)):
        try:
            return float(expr.evaluated_value)
        except (ValueError, OverflowError):
            return None
    return None


def _hull(first: Bound | None, second: Bound | None) -> Bound | None:
    if first is None or second is None:
        return None
    # A constant on one side (a default, a placeholder) says nothing about
    # where the other side comes from: keep that side's origin and kind.
    leading = second if first.constant and not second.constant else first
    same_kind = first.constant == second.constant
    direct = (first.direct and second.direct) if same_kind else leading.direct
    return Bound(
        min(first.low, second.low),
        max(first.high, second.high),
        leading.origin,
        min(first.confidence, second.confidence),
        direct,
        first.constant and second.constant,
    )


def _same_expression(first: cst.BaseExpression, second: cst.BaseExpression) -> bool:
    """The same code, parentheses aside (``w`` and ``(w)``)."""
    if hasattr(first, "lpar"):
        first = first.with_changes(lpar=[], rpar=[])
    if hasattr(second, "lpar"):
        second = second.with_changes(lpar=[], rpar=[])
    return first.deep_equals(second)


def _complement_of(expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """``w`` for ``1 - w`` (``1.0 - w``), else None."""
    if (
        isinstance(expr, cst.BinaryOperation)
        and isinstance(expr.operator, cst.Subtract)
        and _literal(expr.left) == 1.0
    ):
        return expr.right
    return None


def _factors(term: cst.BaseExpression) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    if isinstance(term, cst.BinaryOperation) and isinstance(term.operator, cst.Multiply):
        return term.left, term.right
    return None


def blend_parts(
    expr: cst.BaseExpression,
) -> tuple[cst.BaseExpression, cst.BaseExpression, cst.BaseExpression] | None:
    """``(w, p, q)`` when ``expr`` reads ``w * p + (1 - w) * q`` (factors and terms in any order).

    Syntax only: whether ``w`` lies in [0, 1] (which makes it a convex blend)
    is for :func:`convex_blend` to tell.
    """
    if not (isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add)):
        return None
    first, second = _factors(expr.left), _factors(expr.right)
    if first is None or second is None:
        return None
    for weighted, complemented in ((first, second), (second, first)):
        for w_index in (0, 1):
            weight = weighted[w_index]
            for c_index in (0, 1):
                complement = _complement_of(complemented[c_index])
                if complement is not None and _same_expression(weight, complement):
                    return weight, weighted[1 - w_index], complemented[1 - c_index]
    return None


def convex_blend(
    context: FileContext, expr: cst.BaseExpression, scope: Scope | None = None
) -> tuple[cst.BaseExpression, cst.BaseExpression, cst.BaseExpression] | None:
    """``(w, p, q)`` when ``expr`` is ``w * p + (1 - w) * q`` with ``w`` known to lie in [0, 1].

    The result lies between ``p`` and ``q``: a blend of two probability maps
    is a probability map, and squashing it again squashes twice.
    """
    parts = blend_parts(expr)
    if parts is None:
        return None
    weight = bounds(context, parts[0], scope)
    if weight is None or weight.low < 0.0 or weight.high > 1.0:
        return None
    return parts


class _BoundAnalysis:
    def __init__(self, context: FileContext) -> None:
        self.context = context
        self.model = context.semantics
        self.memo: dict = self.model.cache.setdefault("bounds", {})

    def bound(self, expr, scope, depth) -> Bound | None:
        if expr is None or depth > _MAX_DEPTH:
            return None
        key = (expr, scope.order)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = None  # a value defined in terms of itself is not bounded by it
        result = self._compute(expr, scope, depth + 1)
        self.memo[key] = result
        return result

    def _compute(self, expr, scope, depth) -> Bound | None:
        if isinstance(expr, cst.Name):
            return self._name(expr, scope, depth)
        if isinstance(expr, cst.Call):
            return self._call(expr, scope, depth)
        if isinstance(expr, cst.Subscript):
            return self.bound(expr.value, scope, depth)
        if isinstance(expr, cst.Attribute) and expr.attr.value in ("T", "mT", "data", "values"):
            return self.bound(expr.value, scope, depth)
        if isinstance(expr, cst.BinaryOperation):
            blended = self._blend(expr, scope, depth)
            if blended is not None:
                return blended
            return self._arithmetic(expr, scope, depth)
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
            inner = self.bound(expr.expression, scope, depth)
            if inner is None:
                return None
            return Bound(
                -inner.high,
                -inner.low,
                inner.origin,
                inner.confidence,
                inner.direct,
                inner.constant,
            )
        if isinstance(expr, cst.IfExp):
            return _hull(self.bound(expr.body, scope, depth), self.bound(expr.orelse, scope, depth))
        return None

    def _name(self, expr, scope, depth) -> Bound | None:
        bindings, found_scope = lookup(self.context, expr.value, scope)
        if not bindings:
            return None
        result = None
        for index, binding in enumerate(bindings):
            found = self._binding(binding, found_scope, depth)
            if found is None:
                return None
            result = found if index == 0 else _hull(result, found)
        return result

    def _binding(self, binding, scope, depth) -> Bound | None:
        value_scope = scope.at(binding)
        if binding.kind == "assign":
            found = self.bound(binding.value, value_scope, depth)
            if found is not None and found.constant and binding.name in self._written_in(scope):
                return None  # `m = torch.zeros(n, n)` then `m[i, j] = ...`: filled later
            return found
        if binding.kind == "unpack":
            return self._element(binding.value, binding.index, value_scope, depth)
        if binding.kind == "param":
            return self._parameter(binding, scope, depth)
        if binding.kind == "augment":
            operator = binding.operator
            previous = self._name(cst.Name(binding.name), value_scope, depth)
            if previous is None:
                return None
            shifted = self._combine(operator, previous, binding.value, value_scope, depth, True)
            return shifted
        return None

    def _written_in(self, scope) -> frozenset[str]:
        """Names the flow of ``scope`` writes into in place (``m[i] = v``, ``m[i] += v``)."""
        key = ("bounds.written", scope.flow.owner)
        cache = self.model.cache
        found = cache.get(key)
        if found is None:
            names = set()
            for statement in scope.flow.order_of:
                if not isinstance(statement, cst.SimpleStatementLine):
                    continue
                for small in statement.body:
                    if isinstance(small, cst.Assign):
                        targets = [target.target for target in small.targets]
                    elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
                        targets = [small.target]
                    else:
                        continue
                    for target in targets:
                        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
                            names.add(target.value.value)
            found = cache[key] = frozenset(names)
        return found

    def _element(self, value, index, scope, depth) -> Bound | None:
        # `a, b = x.chunk(2)`: bounded when the whole is.  `coarse, feats =
        # self.backbone(x)`: element `index` of what the callee returns.
        if isinstance(value, cst.Call):
            callee = resolve_callee(self.context, value, scope)
            fn = callee_function(self.context, callee)
            if fn is not None:
                if index is None or callee.kind not in ("function", "method", "module"):
                    return None
                found = self._returned_element(fn, index, depth)
                if found is not None and callee.kind == "module" and found.confidence < MEDIUM:
                    return None
                return found
        return self.bound(value, scope, depth)

    def _returned_element(self, fn, index, depth) -> Bound | None:
        """The bound of element ``index`` of every tuple ``fn`` returns."""
        flow = flow_of(self.context, fn)
        result = None
        for statement, return_scope in flow.returns:
            value = statement.value
            if not isinstance(value, (cst.Tuple, cst.List)) or index >= len(value.elements):
                return None
            if any(isinstance(element, cst.StarredElement) for element in value.elements):
                return None
            found = self.bound(value.elements[index].value, return_scope, depth)
            if found is None:
                return None
            result = found if result is None else _hull(result, found)
        if result is None:
            return None
        origin = f"{result.origin}, returned by {_label(self.context, fn)}"
        return Bound(
            result.low, result.high, origin, result.confidence, result.direct, result.constant
        )

    def _parameter(self, binding, scope, depth) -> Bound | None:
        fn = scope.flow.function
        if fn is None:
            return None
        sites = callers(self.context, fn)
        if not sites:
            return None
        result = None
        for call, call_scope in sites:
            argument = bound_argument(self.context, call, fn, binding.name)
            if argument is None:
                return None
            found = self.bound(argument, call_scope, depth)
            if found is None:
                return None
            result = found if result is None else _hull(result, found)
        return result.weaker(MEDIUM) if result is not None else None

    def _blend(self, expr, scope, depth) -> Bound | None:
        parts = blend_parts(expr)
        if parts is None:
            return None
        weight, first, second = parts
        found = self.bound(weight, scope, depth)
        if found is None or found.low < 0.0 or found.high > 1.0:
            return None
        return _hull(self.bound(first, scope, depth), self.bound(second, scope, depth))

    def _arithmetic(self, expr, scope, depth) -> Bound | None:
        left_constant = _literal(expr.left)
        right_constant = _literal(expr.right)
        operator = expr.operator
        if left_constant is not None and right_constant is not None:
            return None
        if left_constant is not None:
            right = self.bound(expr.right, scope, depth)
            if right is None:
                return None
            if isinstance(operator, cst.Multiply):
                return _scaled(right, left_constant)
            if isinstance(operator, cst.Add):
                return _shifted(right, left_constant)
            if isinstance(operator, cst.Subtract):
                return _shifted(_scaled(right, -1.0), left_constant)
            return None
        left = self.bound(expr.left, scope, depth)
        if left is None:
            return None
        return self._combine(operator, left, expr.right, scope, depth, False)

    def _combine(self, operator, left: Bound, right_expr, scope, depth, augmented) -> Bound | None:
        constant = _literal(right_expr)
        if constant is not None:
            if isinstance(operator, (cst.Multiply, cst.MultiplyAssign)):
                return _scaled(left, constant)
            if isinstance(operator, (cst.Divide, cst.DivideAssign)) and constant != 0:
                return _scaled(left, 1.0 / constant)
            if isinstance(operator, (cst.Add, cst.AddAssign)):
                return _shifted(left, constant)
            if isinstance(operator, (cst.Subtract, cst.SubtractAssign)):
                return _shifted(left, -constant)
            return None
        right = self.bound(right_expr, scope, depth)
        if right is None:
            return None
        confidence = min(left.confidence, right.confidence)
        if isinstance(operator, (cst.Multiply, cst.MultiplyAssign)):
            corners = [a * b for a in (left.low, left.high) for b in (right.low, right.high)]
            return Bound(min(corners), max(corners), left.origin, LOW, False)
        # `acc = torch.zeros(n); acc += torch.sigmoid(x)`: the constant adds no kind of its own.
        leading = right if left.constant and not right.constant else left
        direct = leading.direct if left.constant != right.constant else left.direct and right.direct
        constant = left.constant and right.constant
        if isinstance(operator, (cst.Add, cst.AddAssign)):
            return Bound(
                left.low + right.low,
                left.high + right.high,
                leading.origin,
                confidence,
                direct,
                constant,
            )
        if isinstance(operator, (cst.Subtract, cst.SubtractAssign)):
            return Bound(
                left.low - right.high,
                left.high - right.low,
                leading.origin,
                confidence,
                direct,
                constant,
            )
        return None

    def _call(self, call: cst.Call, scope, depth) -> Bound | None:
        func = call.func
        if isinstance(func, cst.Attribute) and self.model.qualified_name(func) is None:
            method = func.attr.value
            if method in BOUNDED_METHODS:
                low, high = BOUNDED_METHODS[method]
                return Bound(low, high, f".{method}()", HIGH)
            if method in _CLAMPS:
                return _clamp_bound(call, first_is_input=False, name=f".{method}()")
            if method in _KEEPING_METHODS:
                return self.bound(func.value, scope, depth)
        callee = resolve_callee(self.context, call, scope)
        if callee.kind == "torch":
            qualified = callee.qualified
            if qualified in BOUNDED_FUNCTIONS:
                low, high = BOUNDED_FUNCTIONS[qualified]
                return Bound(low, high, qualified, HIGH)
            if qualified in ("torch.clamp", "torch.clip"):
                return _clamp_bound(call, first_is_input=True, name=qualified)
            if qualified in _CONSTANT_FUNCTIONS:
                value = _CONSTANT_FUNCTIONS[qualified]
                return Bound(value, value, qualified, HIGH, direct=False, constant=True)
            if qualified in _KEEPING_FUNCTIONS and call.args:
                return self.bound(call.args[0].value, scope, depth)
            if qualified in _JOINING_FUNCTIONS and call.args:
                return self._joined(call.args[0].value, scope, depth)
            if qualified == "torch.where" and len(call.args) == 3:
                return _hull(
                    self.bound(call.args[1].value, scope, depth),
                    self.bound(call.args[2].value, scope, depth),
                )
            return None
        if (
            callee.kind == "torch_module"
            and call.args
            and not call.args[0].star
            and callee.qualified.rsplit(".", 1)[-1] in _KEEPING_MODULES
        ):
            return self.bound(call.args[0].value, scope, depth)
        found = self.module_bound(callee, depth)
        if found is not None:
            (low, high), origin = found
            return Bound(low, high, origin, HIGH)
        fn = callee_function(self.context, callee)
        if fn is not None and callee.kind in ("function", "method"):
            return self._returns(fn, depth, _label(self.context, fn))
        return None

    def _joined(self, sequence, scope, depth) -> Bound | None:
        if not isinstance(sequence, (cst.List, cst.Tuple)) or not sequence.elements:
            return None
        result = None
        for element in sequence.elements:
            if isinstance(element, cst.StarredElement):
                return None
            found = self.bound(element.value, scope, depth)
            if found is None:
                return None
            result = found if result is None else _hull(result, found)
        return result

    def _returns(self, fn, depth, origin) -> Bound | None:
        flow = flow_of(self.context, fn)
        result = None
        for statement, return_scope in flow.returns:
            if statement.value is None:
                continue
            found = self.bound(statement.value, return_scope, depth)
            if found is None:
                return None
            result = found if result is None else _hull(result, found)
        if result is None:
            return None
        origin = origin or result.origin
        return Bound(
            result.low, result.high, origin, result.confidence, result.direct, result.constant
        )

    def module_bound(self, callee, depth) -> tuple[tuple[float, float], str] | None:
        """Interval and description of a module's output, when the module ends in a squash."""
        if depth > _MAX_DEPTH:
            return None
        if callee.kind == "torch_module":
            last = callee.qualified.rsplit(".", 1)[-1]
            if last in BOUNDED_MODULES:
                return BOUNDED_MODULES[last], f"nn.{last}"
            if last == "Sequential":
                return self._sequential_bound(callee, depth)
            return None
        if callee.kind == "module":
            fn = callee_function(self.context, callee)
            if fn is None:
                return None
            found = self._returns(fn, depth + 1, None)
            if found is None or found.confidence < MEDIUM:
                return None
            interval = (found.low, found.high)
            return interval, f"{callee.cls.name.value}, whose forward ends in {found.origin}"
        return None

    def _sequential_bound(self, callee, depth) -> tuple[tuple[float, float], str] | None:
        layers = [
            arg.value for arg in callee.constructor.args if not arg.star and arg.keyword is None
        ]
        if not layers:
            return None
        last = module_held_by(self.context, layers[-1], callee.scope, 0)
        if last is None:
            return None
        found = self.module_bound(last, depth + 1)
        if found is None:
            return None
        interval, origin = found
        return interval, f"nn.Sequential ending in {origin}"


def _label(context: FileContext, fn: cst.FunctionDef) -> str:
    """``Backbone.forward()`` for a method, ``helper()`` for a function."""
    cls = owner_class(context, fn)
    return f"{cls.name.value}.{fn.name.value}()" if cls is not None else f"{fn.name.value}()"


def _scaled(bound: Bound, factor: float) -> Bound:
    low, high = sorted((bound.low * factor, bound.high * factor))
    return Bound(low, high, bound.origin, bound.confidence, bound.direct, bound.constant)


def _shifted(bound: Bound, offset: float) -> Bound:
    return Bound(
        bound.low + offset,
        bound.high + offset,
        bound.origin,
        bound.confidence,
        bound.direct,
        bound.constant,
    )


def _clamp_bound(call: cst.Call, first_is_input: bool, name: str) -> Bound | None:
    positional = [arg.value for arg in call.args if arg.keyword is None and not arg.star]
    keywords = {arg.keyword.value: arg.value for arg in call.args if arg.keyword is not None}
    if first_is_input:
        positional = positional[1:]
    low_expr = keywords.get("min", positional[0] if positional else None)
    high_expr = keywords.get("max", positional[1] if len(positional) > 1 else None)
    low = _literal(low_expr) if low_expr is not None else None
    high = _literal(high_expr) if high_expr is not None else None
    if low is None or high is None or low > high:
        return None
    return Bound(low, high, f"{name} to [{low:g}, {high:g}]", HIGH)
