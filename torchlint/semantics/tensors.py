"""Is this expression a tensor?  Answered with a confidence, once per node.

Evidence, strongest first: a ``torch`` function resolved by qualified name
(``F.softmax`` is ``torch.nn.functional.softmax``), a method only tensors
have (``.sigmoid()``, ``.detach()``), a call of a module (``self.proj(x)``
where ``__init__`` assigned an ``nn.Conv2d``; a class of this file), a
``Tensor`` annotation, the returns of functions of this file, and
arithmetic, comparison and indexing of any of these.  ``.item()``,
``.shape``, ``.size()``, ``.dim()``, ``.numel()``, ``.dtype``, ``.device``,
``len(x)``, ``x is None``, NumPy and ``math`` values are not tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchlint.lazy import lazy_module
from torchlint.semantics.callgraph import (
    bound_argument,
    callers,
    init_values,
    is_module_class_name,
    module_held_by,
    owner_class,
    resolve_callee,
)
from torchlint.semantics.conditions import is_none_comparison
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.names import dotted_name
from torchlint.semantics.values import Scope, flow_of, lookup, scope_of, self_attribute
from torchlint.semantics.vocabulary import (
    INDEX_LOOP_CALLS,
    NUMBER_BUILTINS,
    PYTHON_VALUE_BUILTINS,
    VIEW_ATTRIBUTES,
)

cst = lazy_module("libcst", globals(), "cst")

if TYPE_CHECKING:
    from torchlint.context import FileContext

NONE, LOW, MEDIUM, HIGH = Confidence.NONE, Confidence.LOW, Confidence.MEDIUM, Confidence.HIGH

# Attributes of a tensor that are Python values (shapes, types, flags).
NON_TENSOR_ATTRIBUTES = frozenset(
    [
        "shape",
        "dtype",
        "device",
        "ndim",
        "is_cuda",
        "requires_grad",
        "grad_fn",
        "is_leaf",
        "layout",
        "names",
        "is_sparse",
        "is_quantized",
        "is_meta",
        "itemsize",
        "nbytes",
        "training",
        "output_nr",
    ]
)
# Methods of a tensor that return Python values.
NON_TENSOR_METHODS = frozenset(
    [
        "item",
        "tolist",
        "numpy",
        "dim",
        "ndimension",
        "size",
        "numel",
        "nelement",
        "element_size",
        "is_contiguous",
        "stride",
        "storage_offset",
        "get_device",
        "data_ptr",
        "is_floating_point",
        "is_complex",
        "is_pinned",
        "is_shared",
        "equal",
        "backward",
        "register_hook",
        "keys",
        "values",
        "items",
        "parameters",
        "named_parameters",
        "state_dict",
        "modules",
        "children",
        "astype",
    ]
)
# Methods that (in PyTorch training code) only tensors have.
TENSOR_METHODS = frozenset(
    [
        "sigmoid",
        "sigmoid_",
        "tanh",
        "tanh_",
        "softmax",
        "log_softmax",
        "relu",
        "relu_",
        "detach",
        "detach_",
        "clamp",
        "clamp_",
        "clamp_min",
        "clamp_max",
        "view",
        "view_as",
        "unsqueeze",
        "unsqueeze_",
        "permute",
        "contiguous",
        "masked_fill",
        "masked_fill_",
        "masked_select",
        "float",
        "half",
        "double",
        "bfloat16",
        "long",
        "new_zeros",
        "new_ones",
        "new_full",
        "new_empty",
        "new_tensor",
        "expand",
        "expand_as",
        "type_as",
        "norm",
        "gather",
        "scatter",
        "scatter_",
        "scatter_add",
        "scatter_add_",
        "index_select",
        "matmul",
        "bmm",
        "mm",
        "exp",
        "exp_",
        "log",
        "log_",
        "log1p",
        "sqrt",
        "rsqrt",
        "pow",
        "pow_",
        "neg",
        "sign",
        "floor",
        "ceil",
        "frac",
        "lerp",
        "addcmul",
        "baddbmm",
        "chunk",
        "unbind",
        "narrow",
        "flip",
        "roll",
        "requires_grad_",
        "mul",
        "mul_",
        "add",
        "add_",
        "sub",
        "sub_",
        "div",
        "div_",
        "masked_scatter",
        "topk",
        "argsort",
        "logsumexp",
        "square",
        "erf",
        "isnan",
        "isinf",
        "isfinite",
        "nan_to_num",
        "eq",
        "ne",
        "gt",
        "lt",
        "ge",
        "le",
        "clone",
        "amax",
        "amin",
        "index_add",
        "repeat_interleave",
        "unfold",
        "t",
        "sum_to_size",
        "cumsum_",
        "softplus",
        "logit",
        "hardsigmoid",
        "hardtanh",
        "silu",
        "gelu",
        "abs_",
        "fill_",
        "zero_",
        "normal_",
        "uniform_",
        "bernoulli",
        "bernoulli_",
        "exponential_",
        "copy_",
        "cuda",
        "flatten",
    ]
)
# Methods NumPy arrays share: the receiver decides.
SHARED_METHODS = frozenset(
    [
        "sum",
        "mean",
        "max",
        "min",
        "std",
        "var",
        "prod",
        "any",
        "all",
        "argmax",
        "argmin",
        "round",
        "reshape",
        "transpose",
        "squeeze",
        "clip",
        "cumsum",
        "cumprod",
        "dot",
        "repeat",
        "nonzero",
        "abs",
        "sort",
        "trace",
        "diagonal",
        "take",
        "cpu",
        "to",
        "median",
        "mode",
        "count_nonzero",
    ]
)
_NON_TENSOR_TORCH_PACKAGES = frozenset(
    [
        "cuda",
        "backends",
        "distributed",
        "utils",
        "jit",
        "onnx",
        "hub",
        "fx",
        "testing",
        "library",
        "compiler",
        "_dynamo",
        "_C",
        "multiprocessing",
        "profiler",
        "overrides",
        "export",
        "package",
        "mps",
        "xpu",
        "amp",
        "quantization",
        "ao",
        "optim",
        "random",
        "sparse_coo_tensor_unsafe",
    ]
)
_NON_TENSOR_TORCH_FUNCTIONS = frozenset(
    [
        "numel",
        "no_grad",
        "enable_grad",
        "set_grad_enabled",
        "inference_mode",
        "device",
        "dtype",
        "Size",
        "get_default_dtype",
        "set_default_dtype",
        "manual_seed",
        "seed",
        "initial_seed",
        "save",
        "load",
        "compile",
        "finfo",
        "iinfo",
        "broadcast_shapes",
        "promote_types",
        "result_type",
        "use_deterministic_algorithms",
        "set_printoptions",
        "set_num_threads",
        "get_num_threads",
        "Generator",
        "equal",
        "allclose",
        "autocast",
        "typename",
        "get_rng_state",
        "set_rng_state",
    ]
)
_NON_TENSOR_MODULES = ("numpy", "np", "math", "random", "scipy", "pandas", "statistics")
_PYTHON_ANNOTATIONS = frozenset(
    [
        "int",
        "float",
        "bool",
        "str",
        "bytes",
        "dict",
        "list",
        "tuple",
        "set",
        "Dict",
        "List",
        "Tuple",
        "Set",
        "Sequence",
        "Callable",
        "Iterable",
        "Mapping",
        "Literal",
        "type",
    ]
)
_COUNT_LIKE_PARAMETERS = frozenset(
    [
        "step",
        "steps",
        "epoch",
        "epochs",
        "iteration",
        "it",
        "idx",
        "index",
        "i",
        "j",
        "k",
        "n",
        "dim",
        "axis",
        "training",
        "mode",
        "stage",
        "level",
        "layer_idx",
        "batch_idx",
        "global_step",
        "current_epoch",
        "reduction",
    ]
)
# Loss and layer arguments that are configuration by convention, not data.
_HYPERPARAMETER_NAMES = frozenset(
    [
        "weight",
        "alpha",
        "beta",
        "gamma",
        "delta",
        "eps",
        "epsilon",
        "margin",
        "temperature",
        "tau",
        "temp",
        "scale",
        "threshold",
        "p",
        "smooth",
        "smoothing",
        "label_smoothing",
        "ignore_index",
        "reduction",
        "size_average",
        "reduce",
        "pos_weight",
        "lam",
        "coef",
        "coefficient",
        "factor",
    ]
)
_MAX_DEPTH = 24


def tensor_confidence(
    context: FileContext, expr: cst.BaseExpression, scope: Scope | None = None
) -> Confidence:
    """How sure we are that ``expr`` evaluates to a ``torch.Tensor``.

    ``context`` is the :class:`FileContext` or its semantic model.  ``scope``
    is where ``expr`` is evaluated; left out, it is found from the walk (so
    ``expr`` must be a node the walk has reached).
    """
    if scope is None:
        scope = scope_of(context, expr)
    return _TensorAnalysis(context).confidence(expr, scope, 0)


def parameter_confidence(
    context: FileContext, param: cst.Param, fn: cst.FunctionDef | None
) -> Confidence:
    """How sure we are that parameter ``param`` of ``fn`` holds a tensor.

    From its annotation (``beta: float`` is NONE), its default (``eps=1e-6``
    is NONE, ``mask=None`` LOW) and its role (the inputs of a ``forward`` or
    a loss are MEDIUM, unless named like a count or a hyper-parameter).
    """
    return _TensorAnalysis(context).parameter(param, fn)


def is_tensor(
    context: FileContext,
    expr: cst.BaseExpression,
    minimum: Confidence = Confidence.MEDIUM,
    scope: Scope | None = None,
) -> bool:
    """Whether ``expr`` is a tensor with at least ``minimum`` confidence."""
    return tensor_confidence(context, expr, scope) >= minimum


class _TensorAnalysis:
    def __init__(self, context: FileContext) -> None:
        self.context = context
        self.model = context.semantics
        self.memo: dict = self.model.cache.setdefault("tensor_confidence", {})

    def confidence(self, expr, scope, depth) -> Confidence:
        if expr is None:
            return NONE
        key = (expr, scope.order if scope is not None else None)
        found = self.memo.get(key)
        if found is not None:
            return found
        if depth > _MAX_DEPTH:
            return LOW
        self.memo[key] = NONE  # a value defined in terms of itself adds nothing
        result = self._compute(expr, scope, depth + 1)
        self.memo[key] = result
        return result

    def _compute(self, expr, scope, depth) -> Confidence:
        if isinstance(
            expr,
            (
                cst.Integer,
                cst.Float,
                cst.Imaginary,
                cst.SimpleString,
                cst.ConcatenatedString,
                cst.FormattedString,
                cst.Tuple,
                cst.List,
                cst.Dict,
                cst.Set,
                cst.ListComp,
                cst.DictComp,
                cst.SetComp,
                cst.GeneratorExp,
                cst.Lambda,
            ),
        ):
            return NONE
        if isinstance(expr, cst.Name):
            return self._name(expr, scope, depth)
        if isinstance(expr, cst.Attribute):
            return self._attribute(expr, scope, depth)
        if isinstance(expr, cst.Call):
            return self._call(expr, scope, depth)
        if isinstance(expr, cst.Subscript):
            return self.confidence(expr.value, scope, depth)
        if isinstance(expr, cst.BinaryOperation):
            return max(
                self.confidence(expr.left, scope, depth),
                self.confidence(expr.right, scope, depth),
            )
        if isinstance(expr, cst.UnaryOperation):
            if isinstance(expr.operator, cst.Not):
                return NONE
            return self.confidence(expr.expression, scope, depth)
        if isinstance(expr, cst.Comparison):
            if any(
                isinstance(t.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn))
                for t in expr.comparisons
            ) or is_none_comparison(expr):
                return NONE
            best = self.confidence(expr.left, scope, depth)
            for target in expr.comparisons:
                best = max(best, self.confidence(target.comparator, scope, depth))
            return best
        if isinstance(expr, cst.IfExp):
            return max(
                self.confidence(expr.body, scope, depth),
                self.confidence(expr.orelse, scope, depth),
            )
        if isinstance(expr, cst.BooleanOperation):
            return min(
                self.confidence(expr.left, scope, depth),
                self.confidence(expr.right, scope, depth),
            )
        if isinstance(expr, cst.NamedExpr):
            return self.confidence(expr.value, scope, depth)
        if isinstance(expr, cst.Await):
            return LOW
        return NONE

    # -- names ---------------------------------------------------------------

    def _name(self, expr: cst.Name, scope, depth) -> Confidence:
        if expr.value in ("self", "cls", "None", "True", "False"):
            return NONE
        if scope is None:
            return LOW
        bindings, found_scope = lookup(self.context, expr.value, scope)
        if not bindings:
            return LOW
        best = NONE
        for binding in bindings:
            best = max(best, self._binding(binding, found_scope, depth))
            if best == HIGH:
                break
        return best

    def _binding(self, binding, scope, depth) -> Confidence:
        kind = binding.kind
        if kind == "param":
            found = self.parameter(binding.param, scope.flow.function)
            if found == LOW and depth < _MAX_DEPTH // 2:
                found = max(found, self._passed_in(binding.name, scope.flow.function, depth))
            return found
        value_scope = scope.at(binding)
        if kind == "assign":
            return self.confidence(binding.value, value_scope, depth)
        if kind == "unpack":
            return self.element(binding.value, binding.index, value_scope, depth)
        if kind == "augment":
            previous = self._name(cst.Name(binding.name), value_scope, depth)
            return max(previous, self.confidence(binding.value, value_scope, depth))
        if kind == "loop":
            iterable = binding.value
            if isinstance(iterable, cst.Call) and dotted_name(iterable.func) in INDEX_LOOP_CALLS:
                return NONE if dotted_name(iterable.func) == "range" else LOW
            return min(self.confidence(iterable, value_scope, depth), MEDIUM) or LOW
        return NONE

    def _passed_in(self, name: str, fn: cst.FunctionDef | None, depth) -> Confidence:
        """What the callers in this file pass for parameter ``name``: all of them must agree."""
        if fn is None:
            return NONE
        sites = callers(self.context, fn)
        if not sites:
            return NONE
        agreed = HIGH
        for call, call_scope in sites:
            argument = bound_argument(self.context, call, fn, name)
            if argument is None:
                return NONE
            agreed = min(agreed, self.confidence(argument, call_scope, depth))
            if agreed <= LOW:
                return agreed
        return min(agreed, MEDIUM)

    def parameter(self, param: cst.Param, fn: cst.FunctionDef | None) -> Confidence:
        """Confidence that a parameter holds a tensor, from annotation, default and role."""
        name = param.name.value
        if name in ("self", "cls") or param.star in ("*", "**"):
            return NONE
        if param.annotation is not None:
            text = _annotation_text(param.annotation.annotation)
            words = set(text.replace("[", " ").replace("]", " ").replace(",", " ").split())
            if "Tensor" in text:
                # `Union[int, Tensor]` is usually given an int.
                return LOW if words & (_PYTHON_ANNOTATIONS - {"type"}) else HIGH
            if words and words <= (_PYTHON_ANNOTATIONS | {"Optional", "Union", "None"}):
                return NONE
            return LOW
        if param.default is not None:
            if isinstance(param.default, cst.Name) and param.default.value == "None":
                return LOW
            return NONE
        if fn is not None and _differentiable_name(fn.name.value):
            lowered = name.lower()
            if (
                lowered in _COUNT_LIKE_PARAMETERS
                or lowered in _HYPERPARAMETER_NAMES
                or lowered.startswith(("num_", "n_", "is_", "use_", "return_", "lambda", "w_"))
                or lowered.endswith(
                    ("_size", "_dim", "_idx", "_step", "_epoch", "_id", "_flag", "_weight")
                )
            ):
                return LOW
            return MEDIUM
        return LOW

    # -- attributes ------------------------------------------------------------

    def _attribute(self, expr: cst.Attribute, scope, depth) -> Confidence:
        attr = expr.attr.value
        if attr in NON_TENSOR_ATTRIBUTES:
            return NONE
        qualified = self.model.qualified_name(expr)
        if qualified is not None and not isinstance(expr.value, cst.Call):
            head = qualified.split(".", 1)[0]
            if head in ("torch",) or head in _NON_TENSOR_MODULES:
                return NONE
        if attr in VIEW_ATTRIBUTES:
            return self.confidence(expr.value, scope, depth)
        self_attr = self_attribute(expr)
        if self_attr is not None and scope is not None:
            return self._self_attribute(self_attr, scope, depth)
        if (
            attr in ("weight", "bias")
            and scope is not None
            and module_held_by(self.context, expr.value, scope) is not None
        ):
            return HIGH
        return LOW

    def _self_attribute(self, attr: str, scope, depth) -> Confidence:
        cls = owner_class(self.context, scope.flow.function)
        if cls is None:
            return LOW
        if _registers_buffer(self.context, cls, attr):
            return HIGH
        values = init_values(self.context, cls, attr)
        if not values:
            return LOW
        best = NONE
        for value, value_scope in values:
            if isinstance(value, cst.Call) and module_held_by(self.context, value, value_scope):
                continue
            if isinstance(value, cst.Name) and value_scope.flow.parameter(value.value):
                # A constructor argument stored as is: configuration, not data.
                continue
            best = max(best, self.confidence(value, value_scope, depth))
        return best

    # -- calls -----------------------------------------------------------------

    def _call(self, call: cst.Call, scope, depth) -> Confidence:
        func = call.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            qualified = self.model.qualified_name(func)
            if qualified is None or isinstance(func.value, (cst.Call, cst.Subscript)):
                if method in NON_TENSOR_METHODS:
                    return NONE
                if method in TENSOR_METHODS:
                    receiver = self.confidence(func.value, scope, depth)
                    if receiver == NONE and _is_external_value(self.context, func.value):
                        return NONE
                    if receiver == NONE and method == "cuda":
                        return NONE
                    return HIGH if receiver != NONE or method not in ("to", "cuda") else LOW
                if method in SHARED_METHODS:
                    receiver = self.confidence(func.value, scope, depth)
                    if method in ("cpu", "to"):
                        return receiver
                    return receiver
        callee = resolve_callee(self.context, call, scope)
        kind = callee.kind
        if kind == "torch":
            return _torch_function_confidence(callee.qualified)
        if kind == "torch_module":
            return HIGH
        if kind == "torch_module_class":
            return HIGH if callee.qualified.endswith(".Parameter") else NONE
        if kind in ("function", "method", "module"):
            return self._returns(callee, depth)
        if kind == "constructor":
            return NONE
        if kind == "external":
            head = callee.qualified.split(".", 1)[0]
            if head in _NON_TENSOR_MODULES:
                return NONE
            return LOW
        name = dotted_name(func)
        if name in PYTHON_VALUE_BUILTINS:
            return NONE
        if name in NUMBER_BUILTINS:
            best = NONE
            for arg in call.args:
                best = max(best, self.confidence(arg.value, scope, depth))
            # Builtins mostly combine Python numbers (sizes, counts), even when a tensor is near.
            return min(best, LOW)
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in NON_TENSOR_METHODS:
                return NONE
            receiver = self.confidence(func.value, scope, depth)
            if method in TENSOR_METHODS:
                if receiver == NONE and _is_external_value(self.context, func.value):
                    return NONE
                return HIGH
            if method in SHARED_METHODS:
                return receiver
            if self_attribute(func.value) is not None or func.value is None:
                return LOW
        return LOW

    def _returns(self, callee, depth) -> Confidence:
        from torchlint.semantics.callgraph import callee_function

        fn = callee_function(self.context, callee)
        if fn is None:
            return MEDIUM if callee.kind == "module" else LOW
        flow = flow_of(self.context, fn)
        best = NONE
        for statement, return_scope in flow.returns:
            if statement.value is not None:
                best = max(best, self.confidence(statement.value, return_scope, depth))
        if callee.kind == "module" and best == LOW:
            return MEDIUM
        return best

    def element(self, expr, index, scope, depth) -> Confidence:
        """Confidence for element ``index`` of ``expr`` when it is unpacked."""
        if isinstance(expr, (cst.Tuple, cst.List)) and index is not None:
            elements = expr.elements
            if index < len(elements) and not isinstance(elements[index], cst.StarredElement):
                return self.confidence(elements[index].value, scope, depth)
            return LOW
        if isinstance(expr, cst.Call) and index is not None:
            callee = resolve_callee(self.context, expr, scope)
            if callee.kind in ("function", "method", "module"):
                from torchlint.semantics.callgraph import callee_function

                fn = callee_function(self.context, callee)
                if fn is not None:
                    best = NONE
                    for statement, return_scope in flow_of(self.context, fn).returns:
                        value = statement.value
                        if isinstance(value, (cst.Tuple, cst.List)):
                            best = max(best, self.element(value, index, return_scope, depth))
                        elif value is not None:
                            best = max(best, self.confidence(value, return_scope, depth))
                    return best
            if callee.kind == "torch_module":
                return HIGH
        return self.confidence(expr, scope, depth)


def torch_call_confidence(qualified: str) -> Confidence:
    """How ``tensor_confidence`` rates a call of ``qualified``, imported from anywhere.

    ``resolve_callee`` finds a torch module class (``torch.nn.Linear``: its
    instance is no tensor, a ``Parameter`` is), a torch function
    (:func:`_torch_function_confidence`) or an external one (LOW at most).
    """
    if qualified == "torch" or qualified.startswith("torch."):
        if is_module_class_name(qualified):
            return HIGH if qualified.endswith(".Parameter") else NONE
        return _torch_function_confidence(qualified)
    return LOW


def _torch_function_confidence(qualified: str) -> Confidence:
    parts = qualified.split(".")
    if len(parts) < 2:
        return NONE
    if parts[1] in _NON_TENSOR_TORCH_PACKAGES:
        return NONE
    last = parts[-1]
    if parts[1] == "nn":
        if len(parts) > 2 and parts[2] in ("functional", "init"):
            return HIGH
        return NONE
    if last.startswith(("is_", "get_", "set_")) or last in _NON_TENSOR_TORCH_FUNCTIONS:
        return NONE
    if last[:1].isupper() and last not in ("Tensor", "FloatTensor", "LongTensor"):
        return NONE
    return HIGH


def _is_external_value(context: FileContext, expr: cst.BaseExpression) -> bool:
    """A value made by NumPy, math or the like (``np.asarray(a)``)."""
    model = context.semantics
    while isinstance(expr, (cst.Call, cst.Attribute, cst.Subscript)):
        if isinstance(expr, cst.Call):
            qualified = model.qualified_name(expr.func)
            if qualified is not None:
                return qualified.split(".", 1)[0] in _NON_TENSOR_MODULES
            expr = expr.func
        else:
            expr = expr.value
    return False


def _registers_buffer(context: FileContext, cls: cst.ClassDef, attr: str) -> bool:
    model = context.semantics
    key = ("buffers", cls)
    names = model.cache.get(key)
    if names is None:
        names = set()
        for method in model.methods(cls).values():
            for statement in flow_of(context, method).order_of:
                if not isinstance(statement, cst.SimpleStatementLine):
                    continue
                for small in statement.body:
                    call = getattr(small, "value", None)
                    if (
                        isinstance(small, cst.Expr)
                        and isinstance(call, cst.Call)
                        and isinstance(call.func, cst.Attribute)
                        and call.func.attr.value in ("register_buffer", "register_parameter")
                        and call.args
                        and isinstance(call.args[0].value, cst.SimpleString)
                    ):
                        names.add(call.args[0].value.value.strip("\"'"))
        model.cache[key] = names
    return attr in names


def _annotation_text(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.SimpleString):
        return node.value.strip("\"'")
    name = dotted_name(node)
    if name is not None:
        return name.rsplit(".", 1)[-1]
    if isinstance(node, cst.Subscript):
        inner = " ".join(
            _annotation_text(element.slice.value)
            for element in node.slice
            if isinstance(element.slice, cst.Index)
        )
        return f"{_annotation_text(node.value)}[{inner}]"
    if isinstance(node, cst.BinaryOperation):
        return f"{_annotation_text(node.left)} {_annotation_text(node.right)}"
    return ""


def _differentiable_name(name: str) -> bool:
    """Functions whose inputs are tensors by convention: ``forward`` and losses."""
    lowered = name.lower()
    return lowered == "forward" or lowered.startswith("forward_") or "loss" in lowered


# -- integer and boolean tensors: counts, indices and masks -----------------------

# Methods and torch functions whose result holds integers or booleans.
INTEGER_RESULTS = frozenset(
    [
        "int",
        "long",
        "short",
        "byte",
        "char",
        "bool",
        "argmax",
        "argmin",
        "argsort",
        "nonzero",
        "count_nonzero",
        "eq",
        "ne",
        "gt",
        "lt",
        "ge",
        "le",
        "greater",
        "less",
        "isnan",
        "isinf",
        "isfinite",
        "logical_and",
        "logical_or",
        "logical_not",
        "logical_xor",
        "bucketize",
        "searchsorted",
        "bincount",
    ]
)
# Methods and torch functions that keep the dtype of their (first) tensor.
DTYPE_KEEPING = frozenset(
    [
        "sum",
        "cumsum",
        "max",
        "min",
        "amax",
        "amin",
        "abs",
        "neg",
        "clone",
        "detach",
        "cpu",
        "cuda",
        "contiguous",
        "view",
        "view_as",
        "reshape",
        "flatten",
        "squeeze",
        "unsqueeze",
        "transpose",
        "permute",
        "t",
        "expand",
        "expand_as",
        "index_select",
        "gather",
        "masked_select",
        "diagonal",
        "flip",
        "roll",
        "narrow",
    ]
)
_FLOAT_DTYPES = frozenset(["float", "float16", "float32", "float64", "half", "double", "bfloat16"])
_INTEGER_DTYPES = frozenset(["int", "int8", "int16", "int32", "int64", "long", "uint8", "bool"])
_INTEGER_OPERATORS = (
    "Add",
    "Subtract",
    "Multiply",
    "FloorDivide",
    "Modulo",
    "BitAnd",
    "BitOr",
    "BitXor",
)


def is_integer_valued(
    context: FileContext, expr: cst.BaseExpression, scope: Scope | None = None
) -> bool:
    """Whether ``expr`` is a tensor of integers or booleans: a count, an index or a mask.

    ``labels == 1``, ``mask.long()``, ``x.argmax(1)``, ``torch.sum((labels ==
    1).int(), 1)[i]`` and arithmetic of them with integers.  Such a value
    carries no gradient and counts things rather than measuring them;
    ``(p > 0.5).float().mean()`` is a fraction again (a float), so it is not.
    """
    if scope is None:
        scope = scope_of(context, expr)
    if scope is None:
        return False
    memo = context.semantics.cache.setdefault("integer_valued", {})
    return _integer_valued(context, expr, scope, memo, 0)


def _integer_valued(context, expr, scope, memo, depth) -> bool:
    if expr is None or depth > _MAX_DEPTH:
        return False
    key = (expr, scope.order)
    found = memo.get(key)
    if found is not None:
        return found
    memo[key] = False  # a value defined in terms of itself adds nothing
    result = _compute_integer_valued(context, expr, scope, memo, depth + 1)
    memo[key] = result
    return result


def _compute_integer_valued(context, expr, scope, memo, depth) -> bool:
    if isinstance(expr, cst.Comparison):
        return not any(
            isinstance(t.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for t in expr.comparisons
        )
    if isinstance(expr, cst.Subscript):
        return _integer_valued(context, expr.value, scope, memo, depth)
    if isinstance(expr, cst.UnaryOperation):
        if isinstance(expr.operator, cst.Not):
            return False
        return _integer_valued(context, expr.expression, scope, memo, depth)
    if isinstance(expr, cst.BinaryOperation):
        if type(expr.operator).__name__ not in _INTEGER_OPERATORS:
            return False
        sides = (expr.left, expr.right)
        counted = [_integer_valued(context, side, scope, memo, depth) for side in sides]
        if not any(counted):
            return False
        return all(
            counted[k] or _python_integer_like(context, side, scope) for k, side in enumerate(sides)
        )
    if isinstance(expr, cst.Name):
        # Every binding counts (`n = 0; n += mask.sum()`), and one of them is a tensor.
        bindings, found_scope = lookup(context, expr.value, scope)
        counted = False
        for binding in bindings:
            value_scope = found_scope.at(binding)
            if binding.kind in ("assign", "augment"):
                if _integer_valued(context, binding.value, value_scope, memo, depth):
                    counted = True
                elif not isinstance(binding.value, cst.Integer):
                    return False
            elif binding.kind == "unpack":
                if not _integer_element(context, binding.value, binding.index, value_scope):
                    return False
                counted = True
            else:
                return False
        return counted
    if isinstance(expr, cst.Call):
        return _integer_call(context, expr, scope, memo, depth)
    return False


def _integer_call(context, call, scope, memo, depth) -> bool:
    func = call.func
    model = context.semantics
    qualified = model.qualified_name(func)
    args = [arg.value for arg in call.args if arg.keyword is None and not arg.star]
    if qualified is not None and qualified.startswith("torch."):
        last = qualified.rsplit(".", 1)[-1]
        if last in INTEGER_RESULTS:
            return True
        if last in DTYPE_KEEPING and args:
            return _integer_valued(context, args[0], scope, memo, depth)
        return False
    if not isinstance(func, cst.Attribute):
        return False
    method = func.attr.value
    if method in INTEGER_RESULTS:
        return True
    if method == "to" or method == "type":
        named = {(dotted_name(arg.value) or "").rsplit(".", 1)[-1] for arg in call.args}
        if named & _FLOAT_DTYPES:
            return False
        if named & _INTEGER_DTYPES:
            return True
        return _integer_valued(context, func.value, scope, memo, depth)
    if method in DTYPE_KEEPING:
        return _integer_valued(context, func.value, scope, memo, depth)
    return False


def _integer_element(context, value, index, scope) -> bool:
    """``_, idx = torch.max(x, 1)``: the second element of max/min/sort/topk holds indices."""
    if not isinstance(value, cst.Call) or index != 1:
        return False
    func = value.func
    qualified = context.semantics.qualified_name(func)
    last = (qualified or "").rsplit(".", 1)[-1] if qualified else None
    if last is None and isinstance(func, cst.Attribute):
        last = func.attr.value
    return last in ("max", "min", "sort", "topk", "kthvalue", "median", "mode")


def _python_integer_like(context, expr, scope) -> bool:
    """An integer literal, or a value that is not a tensor and not a float literal."""
    if isinstance(expr, cst.Integer):
        return True
    if isinstance(expr, (cst.Float, cst.Imaginary)):
        return False
    return tensor_confidence(context, expr, scope) < MEDIUM
