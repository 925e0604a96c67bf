"""The pre-filter of every rule: what a file must contain for the rule to flag it.

Each rule's :class:`~torchlint.prefilter.Prefilter` lives here, beside the
vocabulary the rule and its pre-filter share, because this module must not
import libcst: a file that no pre-filter lets through is checked without
importing libcst or any rule module.

Every syntax stage below reads the CPython ``ast`` and must be *sound*: it
rejects a file only when the rule's own logic (in ``rules/tlNNN_*.py``)
cannot report anything in it.  Each one says which step of the rule it
mirrors.  Where a mirror would need the rule's data-flow analysis, it
accepts instead: a pre-filter may let through files the rule then finds
clean, never the other way round.  ``tests/test_prefilter.py`` checks the
findings with and without pre-filters on every fixture and example, and
``bench/run.py`` does the same on the whole benchmark corpus.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from torchlint.prefilter import Prefilter
from torchlint.semantics.vocabulary import (
    BACKWARD_CALLS,
    CONVERSION_CALLS,
    COUNT_CALLS,
    DIFFERENTIABLE_TOKENS,
    INDEX_LOOP_CALLS,
    LOSS_TOKENS,
    NUMBER_BUILTINS,
    PYTHON_VALUE_BUILTINS,
    RAMP_FUNCTION_WORDS,
    SIZE_ATTRIBUTES,
    SIZE_CALLS,
    TORCH_SCHEDULERS,
    VIEW_ATTRIBUTES,
    identifier_words,
    is_count_name,
    is_driver_name,
    is_loss_name,
    is_progress_name,
    is_ramp_collection_name,
    name_words,
    names_a_learning_rate,
)
from torchlint.syntax import SyntaxIndex, argument_values, first_argument, last_name

# -- TL001 sigmoid-after-residual ----------------------------------------------

# The squashing functions whose gradient vanishes at the ends (softmax is a
# normalisation over a dimension, not an element-wise squash of a residual).
SQUASH_FUNCTIONS = {
    "torch.sigmoid": "torch.sigmoid",
    "torch.nn.functional.sigmoid": "F.sigmoid",
    "torch.special.expit": "torch.special.expit",
    "torch.nn.functional.hardsigmoid": "F.hardsigmoid",
    "torch.tanh": "torch.tanh",
    "torch.nn.functional.tanh": "F.tanh",
    "torch.nn.functional.hardtanh": "F.hardtanh",
}
SQUASH_METHODS = frozenset({"sigmoid", "sigmoid_", "tanh", "tanh_"})
SQUASH_MODULES = frozenset({"Sigmoid", "Hardsigmoid", "Tanh", "Hardtanh"})
# Shape-only operations between a sum and the squash: `sigmoid((a + b).view(n, -1))`.
SHAPE_METHODS = frozenset(
    [
        "view",
        "reshape",
        "flatten",
        "unflatten",
        "permute",
        "transpose",
        "contiguous",
        "squeeze",
        "unsqueeze",
        "float",
    ]
)
_SQUASH_LAST_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in SQUASH_FUNCTIONS)
_MAX_SUM_DEPTH = 8


def _tl001_squashes_a_sum(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """A squashing call whose argument (or receiver) may evaluate to a sum.

    Mirrors ``SigmoidAfterResidual._squash`` (which calls are squashes) and
    ``_sum_operands`` (a ``+``/``-``, a shape method of one, or a name
    assigned one); the bound of the operands is left to the rule.
    """
    squash_names = set(_SQUASH_LAST_NAMES)
    constructors = set(SQUASH_MODULES)
    for node in index.nodes(ast.ImportFrom):
        for alias in node.names:
            if alias.asname and alias.name in _SQUASH_LAST_NAMES:
                squash_names.add(alias.asname)
            if alias.asname and alias.name in SQUASH_MODULES:
                constructors.add(alias.asname)
    calls = index.nodes(ast.Call)
    # Module calls (`self.act(x + y)` with `self.act = nn.Sigmoid()`): `module_held_by`
    # finds the instance through `nn.Sigmoid(...)` itself, or names assigned one.
    holders: frozenset[str] = frozenset()
    if any(name in index.source for name in SQUASH_MODULES) and any(
        last_name(call.func) in constructors for call in calls
    ):
        holders = _module_holders(index, constructors)
    for call in calls:
        func = call.func
        last = last_name(func)
        method = isinstance(func, ast.Attribute) and last in SQUASH_METHODS
        if method and _may_be_sum(index, func.value, 0):
            return True
        if isinstance(func, ast.Call):
            squash = bool(holders) and last_name(func.func) in constructors
        else:
            squash = last in squash_names or last in holders
        first = first_argument(call) if squash else None
        if first is not None and _may_be_sum(index, first, 0):
            return True
    return False


def _module_holders(index: SyntaxIndex, constructors: set[str]) -> frozenset[str]:
    """Names and attributes assigned a squashing module, or any other name (a chain)."""
    names: set[str] = set()
    for node in index.nodes(ast.Assign, ast.AnnAssign):
        value = node.value
        holds = isinstance(value, (ast.Name, ast.Attribute, ast.Tuple)) or (
            isinstance(value, ast.Call) and last_name(value.func) in constructors
        )
        if not holds:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for part in ast.walk(target):
                name = last_name(part)
                if name is not None:
                    names.add(name)
    return frozenset(names)


def _may_be_sum(index: SyntaxIndex, expr: ast.AST, depth: int) -> bool:
    if depth > _MAX_SUM_DEPTH:
        return True
    if isinstance(expr, ast.BinOp):
        return isinstance(expr.op, (ast.Add, ast.Sub))
    if isinstance(expr, ast.Call):
        func = expr.func
        return (
            isinstance(func, ast.Attribute)
            and func.attr in SHAPE_METHODS
            and _may_be_sum(index, func.value, depth + 1)
        )
    if isinstance(expr, ast.Name):
        return expr.id in index.memo("tl001.sum_names", _sum_names)
    return False


def _sum_names(index: SyntaxIndex) -> frozenset[str]:
    """Names that some statement may bind to a sum (``x = a + b``, ``x += d``, ``x = y``)."""
    names: set[str] = set()

    def may_hold_sum(value: ast.AST) -> bool:
        if isinstance(value, ast.Name):
            return True  # a chain of names: `x = y`
        if isinstance(value, ast.BinOp):
            return isinstance(value.op, (ast.Add, ast.Sub))
        if isinstance(value, ast.Call):
            func = value.func
            return isinstance(func, ast.Attribute) and func.attr in SHAPE_METHODS
        if isinstance(value, (ast.Tuple, ast.List)):
            return any(may_hold_sum(element) for element in value.elts)
        return False

    for node in index.nodes(ast.Assign, ast.AnnAssign):
        value = node.value
        if value is None or not may_hold_sum(value):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    for node in index.nodes(ast.AugAssign):
        if isinstance(node.op, (ast.Add, ast.Sub)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return frozenset(names)


TL001 = Prefilter(
    tokens=("sigmoid", "Sigmoid", "tanh", "Tanh", "expit"),
    syntax=_tl001_squashes_a_sum,
)


# -- TL002 tensor-condition-branch ---------------------------------------------

# Words of values that count, index or measure the input's size rather than its content.
BOOKKEEPING_WORDS = frozenset(
    [
        "id",
        "ids",
        "idx",
        "index",
        "indices",
        "position",
        "positions",
        "len",
        "length",
        "lengths",
        "seq",
        "count",
        "counts",
        "num",
        "n",
        "step",
        "steps",
        "chunk",
        "offset",
        "size",
        "sizes",
        "height",
        "width",
        "shape",
    ]
)
_MEMBERSHIP = (ast.Is, ast.IsNot, ast.In, ast.NotIn)
# A string literal next to another one (`"a" "b"`): libcst reads that as one
# concatenated string, which a comparison does not treat as a category.
_ADJACENT_STRINGS = re.compile(r"[\"']\s+[rRbBuUfF]{0,2}[\"']")


def _tl002_compares_a_tensor(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """A condition that compares a value which may be a tensor, in a file with a root.

    Mirrors ``TensorConditionBranch._check``: the atoms of the condition,
    ``_compared_sides`` (no ``is``/``in``, not a category or size check),
    ``is_emptiness_check``, the first step of ``_names_bookkeeping``, and the
    literals ``tensor_confidence`` rates NONE.  Differentiable code needs a
    ``forward`` or a loss function in the file (``differentiable_root``).
    """
    has_forward = any(
        node.name == "forward" for node in index.nodes(ast.FunctionDef, ast.AsyncFunctionDef)
    )
    if not has_forward and not _tl003_has_a_loss(index, settings):
        return False
    kinds = (ast.If, ast.While, ast.IfExp)
    if settings.get("flag-guards"):
        kinds = (*kinds, ast.Assert)
    deciding = [
        node
        for node in index.nodes(*kinds)
        if any(_may_decide(index, atom) for atom in _condition_atoms(node.test))
    ]
    if not deciding:
        return False
    called = index.memo("called_names", _called_names)
    return any(
        chain and _may_be_differentiated(chain, called)
        for _, chain in _enclosing_functions(index, deciding)
    )


def _called_names(index: SyntaxIndex) -> frozenset[str]:
    return frozenset(filter(None, (last_name(call.func) for call in index.nodes(ast.Call))))


def _may_be_differentiated(chain: list, called: frozenset[str]) -> bool:
    """Whether ``is_differentiable_context`` may rate code in these functions above NONE.

    Mirrors it with names: a root is a ``forward`` (or ``__call__``) or a
    function named like a loss (``differentiable_root``); every other
    differentiated function, and a loss found through ``.backward()``, is
    reached by a call, and a call names the function it reaches
    (``callee_function``).  ``chain`` runs from the outermost function to the
    innermost.
    """
    *outers, innermost = chain

    def root(function) -> bool:
        return function.name in ("forward", "__call__") or is_loss_name(function.name)

    if root(innermost):
        return True
    if any(root(outer) or outer.name in called for outer in outers):
        return True
    if is_driver_name(innermost.name):
        return False
    return innermost.name in called


def _enclosing_functions(index: SyntaxIndex, nodes: list):
    """``(node, the functions around it, outermost first)``, for each node.

    Read off line ranges (a function's decorators included), in one sweep.
    """
    events = []
    for function in index.nodes(ast.FunctionDef, ast.AsyncFunctionDef):
        start = min([function.lineno] + [d.lineno for d in function.decorator_list])
        events.append((start, 0, -(function.end_lineno or start), function))
    events.extend((node.lineno, 1, 0, node) for node in nodes)
    events.sort(key=lambda event: event[:3])
    open_functions: list[tuple[int, ast.AST]] = []
    for line, kind, negative_end, item in events:
        while open_functions and open_functions[-1][0] < line:
            open_functions.pop()
        if kind == 0:
            open_functions.append((-negative_end, item))
        else:
            yield item, [function for _, function in open_functions]


def _condition_atoms(test: ast.AST):
    if isinstance(test, ast.BoolOp):
        for value in test.values:
            yield from _condition_atoms(value)
    elif isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        yield from _condition_atoms(test.operand)
    else:
        yield test


def _may_decide(index: SyntaxIndex, atom: ast.AST) -> bool:
    if not isinstance(atom, ast.Compare) or any(isinstance(op, _MEMBERSHIP) for op in atom.ops):
        return False
    if _is_categorical_or_size(index, atom) or _is_emptiness_check(atom):
        return False
    for side in (atom.left, *atom.comparators):
        inner = _read_back(side)
        if _names_bookkeeping(inner):
            return False  # the rule stops at the first bookkeeping side
        if not _never_a_tensor(index, inner):
            return True
    return False


def _read_back(side: ast.AST) -> ast.AST:
    """Mirrors ``conditions.read_back_tensor``."""
    if isinstance(side, ast.Call):
        func = side.func
        if isinstance(func, ast.Attribute) and func.attr in CONVERSION_CALLS:
            return func.value
        if isinstance(func, ast.Name) and func.id in ("float", "bool"):
            values = argument_values(side)
            if values:
                return values[0]
    return side


def _is_integer(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _is_simple_string(index: SyntaxIndex, node: ast.AST) -> bool:
    """A string literal libcst reads as one ``SimpleString`` (when unsure: no)."""
    if not isinstance(node, ast.Constant) or not isinstance(node.value, (str, bytes)):
        return False
    if not index.memo("adjacent_strings", _has_adjacent_strings):
        return True  # no two literals side by side anywhere in the file
    if node.lineno != node.end_lineno or node.end_col_offset is None:
        return False
    lines = index.memo("lines", _lines)
    line = lines[node.lineno - 1] if node.lineno <= len(lines) else b""
    segment = line[node.col_offset : node.end_col_offset]
    return _ADJACENT_STRINGS.search(segment.decode("utf-8", "replace")) is None


def _has_adjacent_strings(index: SyntaxIndex) -> bool:
    return _ADJACENT_STRINGS.search(index.source) is not None


def _lines(index: SyntaxIndex) -> list[bytes]:
    # Column offsets count UTF-8 bytes.
    return index.source.encode("utf-8", "surrogatepass").splitlines()


def _is_categorical_or_size(index: SyntaxIndex, atom: ast.Compare) -> bool:
    """Mirrors ``conditions.is_categorical_or_size_check``."""
    left_constant = _is_integer(atom.left) or _is_simple_string(index, atom.left)
    for op, comparator in zip(atom.ops, atom.comparators):
        if isinstance(op, (ast.Eq, ast.NotEq)) and (
            left_constant
            or _is_integer(comparator)
            or isinstance(comparator, ast.Attribute)
            or _is_simple_string(index, comparator)
        ):
            return True
    return any(_is_size(side) for side in (atom.left, *atom.comparators))


def _is_size(expr: ast.AST) -> bool:
    if isinstance(expr, ast.Call) and last_name(expr.func) in SIZE_CALLS:
        return True
    if isinstance(expr, ast.Subscript):
        expr = expr.value
    return isinstance(expr, ast.Attribute) and expr.attr in SIZE_ATTRIBUTES


def _small_integer(node: ast.AST) -> int | None:
    if _is_integer(node):
        return node.value  # type: ignore[attr-defined]
    if isinstance(node, ast.Constant) and type(node.value) is float:
        return int(node.value) if node.value in (0.0, 1.0) else None
    return None


def _is_emptiness_check(atom: ast.Compare) -> bool:
    """Mirrors ``conditions.is_emptiness_check`` for a comparison."""
    if len(atom.ops) != 1:
        return False
    counted, literal = atom.left, atom.comparators[0]
    limit = _small_integer(literal)
    if limit is None:
        counted, literal = literal, counted
        limit = _small_integer(literal)
    if limit is None or limit > 1:
        return False
    if _is_integer(literal) and limit == 0:
        return True
    counted = _read_back(counted)
    if isinstance(counted, ast.Call) and last_name(counted.func) in COUNT_CALLS:
        return True
    return isinstance(counted, ast.Name) and is_count_name(counted.id)


def _names_bookkeeping(expr: ast.AST) -> bool:
    """The first step of ``tl002._names_bookkeeping``: a name in the expression itself."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            if any(word in BOOKKEEPING_WORDS for word in name_words(node.id)):
                return True
        elif isinstance(node, ast.BinOp):
            stack.extend((node.left, node.right))
        elif isinstance(node, ast.Subscript):
            stack.append(node.value)
    return False


_NEVER_TENSORS = (
    ast.JoinedStr,
    ast.Tuple,
    ast.List,
    ast.Dict,
    ast.Set,
    ast.ListComp,
    ast.DictComp,
    ast.SetComp,
    ast.GeneratorExp,
    ast.Lambda,
    ast.Await,
)


def _never_a_tensor(index: SyntaxIndex, expr: ast.AST, depth: int = 0) -> bool:
    """Expressions ``tensor_confidence`` rates below MEDIUM, told from the file's syntax.

    Mirrors ``_TensorAnalysis._compute`` for literals and operators;
    ``_name`` for names whose every binding in the file is a loop over
    ``range``/``enumerate``/``zip`` or a value that is never a tensor;
    ``_call`` for the Python builtins (when the file does not rebind them);
    and ``_attribute``: an attribute is LOW unless it is a view of its owner,
    a ``weight``/``bias``, or ``self.<name>`` registered as a buffer or
    assigned in ``__init__`` a value that may be a tensor.
    """
    if depth > _MAX_SUM_DEPTH:
        return False
    if isinstance(expr, ast.Constant):
        # True, False, None and ... are names to libcst; their confidence is NONE too.
        return True
    if isinstance(expr, _NEVER_TENSORS):
        return True
    depth += 1
    if isinstance(expr, ast.Name):
        return _name_never_a_tensor(index, expr.id, depth)
    if isinstance(expr, ast.UnaryOp):
        return isinstance(expr.op, ast.Not) or _never_a_tensor(index, expr.operand, depth)
    if isinstance(expr, ast.BinOp):
        return _never_a_tensor(index, expr.left, depth) and _never_a_tensor(
            index, expr.right, depth
        )
    if isinstance(expr, ast.Subscript):
        return _never_a_tensor(index, expr.value, depth)
    if isinstance(expr, ast.IfExp):
        return _never_a_tensor(index, expr.body, depth) and _never_a_tensor(
            index, expr.orelse, depth
        )
    if isinstance(expr, ast.BoolOp):
        return any(_never_a_tensor(index, value, depth) for value in expr.values)
    if isinstance(expr, ast.Compare):
        return any(isinstance(op, _MEMBERSHIP) for op in expr.ops) or all(
            _never_a_tensor(index, side, depth) for side in (expr.left, *expr.comparators)
        )
    if isinstance(expr, ast.NamedExpr):
        return _never_a_tensor(index, expr.value, depth)
    if isinstance(expr, ast.Call):
        func = expr.func
        return (
            isinstance(func, ast.Name)
            and (func.id in PYTHON_VALUE_BUILTINS or func.id in NUMBER_BUILTINS)
            and func.id not in index.memo("bindings", _bindings)
        )
    if isinstance(expr, ast.Attribute):
        if expr.attr in VIEW_ATTRIBUTES:
            return _never_a_tensor(index, expr.value, depth)
        if expr.attr in ("weight", "bias"):
            return False
        if isinstance(expr.value, ast.Name) and expr.value.id == "self":
            return _self_attribute_never_a_tensor(index, expr.attr, depth)
        return True
    return False


_LOOP = "loop"
_UNKNOWN = "unknown"
# `match` patterns that bind a name (Python 3.10 and later).
_CAPTURE_PATTERNS = tuple(
    getattr(ast, name) for name in ("MatchAs", "MatchStar") if hasattr(ast, name)
)
_MAPPING_PATTERNS = tuple(getattr(ast, name) for name in ("MatchMapping",) if hasattr(ast, name))


def _name_never_a_tensor(index: SyntaxIndex, name: str, depth: int) -> bool:
    if name in ("self", "cls", "None", "True", "False"):
        return True
    memo: dict = index.memo("never_tensor_names", lambda _: {})
    if name in memo:
        return memo[name]
    memo[name] = False  # a cycle of names may hold anything
    result = all(
        kind == _LOOP or (kind != _UNKNOWN and _never_a_tensor(index, kind, depth))
        for kind in index.memo("bindings", _bindings).get(name, ())
    )
    memo[name] = result
    return result


def _bindings(index: SyntaxIndex) -> dict[str, list]:
    """How each name of the file is bound: a loop over ``range``-like calls, a value, or unknown.

    A name bound in any other way (a parameter, an import, an unpacked
    tuple, ``with ... as``, a comprehension) is unknown.
    """
    found: dict[str, list] = {}
    explained: set[int] = set()

    def bind(target: ast.AST, how) -> None:
        found.setdefault(target.id, []).append(how)  # type: ignore[attr-defined]
        explained.add(id(target))

    for node in index.nodes(ast.For, ast.AsyncFor):
        iterable = node.iter
        ranged = (
            isinstance(iterable, ast.Call)
            and isinstance(iterable.func, ast.Name)
            and iterable.func.id in INDEX_LOOP_CALLS
        )
        for part in ast.walk(node.target):
            if isinstance(part, ast.Name):
                bind(part, _LOOP if ranged else _UNKNOWN)
    for node in index.nodes(ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                bind(target, node.value)
    for node in index.nodes(ast.AnnAssign, ast.AugAssign):
        if isinstance(node.target, ast.Name):
            if node.value is None:
                explained.add(id(node.target))  # `x: int` binds nothing
            else:
                bind(node.target, node.value)
    for node in index.nodes(ast.Name):
        if type(node.ctx) is not ast.Load and id(node) not in explained:
            found.setdefault(node.id, []).append(_UNKNOWN)
    others: list[str] = [node.arg for node in index.nodes(ast.arg)]
    for node in index.nodes(ast.Import, ast.ImportFrom):
        others.extend((alias.asname or alias.name).split(".")[0] for alias in node.names)
    for node in index.nodes(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
        others.append(node.name)
    for node in index.nodes(ast.Global, ast.Nonlocal):
        others.extend(node.names)
    for node in index.nodes(ast.ExceptHandler, *_CAPTURE_PATTERNS):
        others.append(node.name)
    for node in index.nodes(*_MAPPING_PATTERNS):
        others.append(node.rest)
    for name in others:
        if name:
            found.setdefault(name, []).append(_UNKNOWN)
    return found


def _self_attribute_never_a_tensor(index: SyntaxIndex, attr: str, depth: int) -> bool:
    """``self.<attr>`` is not a buffer, and every value assigned to it is never a tensor."""
    strings = index.memo("strings", _string_constants)
    if attr in strings:
        return False  # `register_buffer("attr", ...)`
    values = index.memo("self_attribute_values", _self_attribute_values).get(attr, ())
    return all(value is not None and _never_a_tensor(index, value, depth + 1) for value in values)


def _string_constants(index: SyntaxIndex) -> frozenset[str]:
    return frozenset(
        node.value for node in index.nodes(ast.Constant) if isinstance(node.value, str)
    )


def _self_attribute_values(index: SyntaxIndex) -> dict[str, list]:
    """Values assigned to ``self.<attr>`` in an ``__init__``, by attribute.

    Mirrors ``init_values`` (assignments in ``__init__`` only) and
    ``_self_attribute``, which skips a constructor argument stored as is.
    None stands for a value that cannot be told apart (an unpacked tuple).
    """
    found: dict[str, list] = {}
    for function in index.nodes(ast.FunctionDef, ast.AsyncFunctionDef):
        if function.name != "__init__":
            continue
        arguments = function.args
        parameters = {
            arg.arg
            for arg in (
                *arguments.posonlyargs,
                *arguments.args,
                *arguments.kwonlyargs,
                *filter(None, (arguments.vararg, arguments.kwarg)),
            )
        }
        for node in ast.walk(function):
            if not isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            if isinstance(value, ast.Name) and value.id in parameters:
                continue
            for target in targets:
                direct = not isinstance(target, (ast.Tuple, ast.List))
                for part in ast.walk(target):
                    if (
                        isinstance(part, ast.Attribute)
                        and isinstance(part.value, ast.Name)
                        and part.value.id == "self"
                    ):
                        found.setdefault(part.attr, []).append(value if direct else None)
    return found


TL002 = Prefilter(
    # A condition, inside differentiable code.
    tokens=(("if", "while", "assert", " and ", " or ", "not "), DIFFERENTIABLE_TOKENS),
    syntax=_tl002_compares_a_tensor,
)


# -- TL003 constant-loss-return ------------------------------------------------


def _tl003_has_a_loss(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """A function or class named like a loss, a ``_Loss`` base, or a ``.backward()`` call.

    Mirrors ``losses.is_loss_function``: HIGH needs a loss name (of the
    function, or of the class whose ``forward`` it is, or its ``_Loss``
    base); MEDIUM needs a call of ``backward``/``manual_backward``.
    """
    return index.memo("tl003.has_a_loss", _has_a_loss)


def _has_a_loss(index: SyntaxIndex) -> bool:
    for call in index.nodes(ast.Call):
        if isinstance(call.func, ast.Attribute) and call.func.attr in BACKWARD_CALLS:
            return True
    for node in index.nodes(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
        if is_loss_name(node.name):
            return True
    return "_Loss" in index.source or "_WeightedLoss" in index.source


TL003 = Prefilter(
    # A loss function returning a value, or a `.backward()` call.
    tokens=(("return", "backward"), LOSS_TOKENS),
    syntax=_tl003_has_a_loss,
)


# -- TL004 lr-decay-per-batch --------------------------------------------------

LR_KEYS = frozenset({"lr", "learning_rate"})


def _tl004_updates_a_learning_rate(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """An ``*=``/``/=`` or a single-target ``=`` whose target is a learning rate.

    Mirrors ``LrDecayPerBatch.visit_AugAssign``/``visit_Assign`` and ``_is_lr_target``.
    """
    for node in index.nodes(ast.AugAssign):
        if isinstance(node.op, (ast.Mult, ast.Div)) and _is_lr_target(node.target):
            return True
    for node in index.nodes(ast.Assign):
        if len(node.targets) == 1 and _is_lr_target(node.targets[0]):
            return True
    return False


def _is_lr_target(target: ast.AST) -> bool:
    if isinstance(target, ast.Subscript):
        key = target.slice
        return isinstance(key, ast.Constant) and key.value in LR_KEYS
    if isinstance(target, (ast.Name, ast.Attribute)):
        return names_a_learning_rate(last_name(target) or "")
    return False


TL004 = Prefilter(
    tokens=("lr", "Lr", "LR", "learning", "Learning", "LEARNING"),
    syntax=_tl004_updates_a_learning_rate,
)


# -- TL005 ramped-primary-loss -------------------------------------------------

# The names of primary terms, the default of the `primary-loss-names` option.
DEFAULT_PRIMARY_LOSS_NAMES = [
    "reconstruction",
    "recon",
    "rec",
    "l1",
    "l2",
    "mse",
    "ce",
    "cross_entropy",
    "nll",
    "ssim",
]
_TOKEN = re.compile(r"[A-Za-z0-9_]+")


def _tl005_has_a_ramp(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """A product and a zero-at-start ramp, or a collection named like ramped keys.

    Mirrors ``ramps.zero_start_ramp``: every ramp it recognises is, in the
    end, ``progress / n``, ``progress * k`` or a ramp-named call on a
    progress counter (``_zero_at_start``, ``_is_progress``).  Collections:
    ``RampedPrimaryLoss.visit_Assign``.
    """
    for node in index.nodes(ast.Assign):
        target = node.targets[0] if len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and is_ramp_collection_name(target.id):
            return True
    if not _ramp_shapes(index):
        return False
    # `_check_product` and `_check_collection` report only a term, key or string
    # whose words include a primary-loss name.
    names = settings.get("primary-loss-names")
    if names is None:
        names = DEFAULT_PRIMARY_LOSS_NAMES
    patterns = [identifier_words(name) for name in names if name]
    words = index.memo("words", _words)
    return any(
        all(word in words for word in pattern) or (len(pattern) > 1 and "".join(pattern) in words)
        for pattern in patterns
        if pattern
    )


def _words(index: SyntaxIndex) -> frozenset[str]:
    """Every word of every identifier and string in the file."""
    words: set[str] = set()
    for token in set(_TOKEN.findall(index.source)):
        words.update(identifier_words(token))
    return frozenset(words)


def _ramp_shapes(index: SyntaxIndex) -> bool:
    has_product = any(isinstance(n.op, ast.Mult) for n in index.nodes(ast.AugAssign)) or any(
        isinstance(n.op, ast.Mult) for n in index.nodes(ast.BinOp)
    )
    if not has_product:
        return False
    for node in index.nodes(ast.BinOp):
        if isinstance(node.op, (ast.Div, ast.FloorDiv)) and _is_progress(node.left):
            return True
        if isinstance(node.op, ast.Mult) and (
            (_is_progress(node.left) and _may_be_number(node.right))
            or (_is_progress(node.right) and _may_be_number(node.left))
        ):
            return True
    for call in index.nodes(ast.Call):
        last = last_name(call.func)
        ramp_named = bool(last and set(identifier_words(last)) & RAMP_FUNCTION_WORDS)
        if ramp_named and any(_is_progress(value) for value in argument_values(call)):
            return True
    return False


def _may_be_number(expr: ast.AST) -> bool:
    """Shapes ``dataflow.constant_number`` can evaluate (``_is_scale``)."""
    if isinstance(expr, (ast.Constant, ast.Name, ast.Attribute)):
        return True
    if isinstance(expr, ast.UnaryOp):
        return _may_be_number(expr.operand)
    if isinstance(expr, ast.BinOp):
        return _may_be_number(expr.left) and _may_be_number(expr.right)
    return False


def _is_progress(expr: ast.AST) -> bool:
    """Mirrors ``ramps._is_progress`` (and ``_reads_progress``), a little wider."""
    if isinstance(expr, ast.Call):
        if isinstance(expr.func, ast.Name) and expr.func.id in ("float", "int"):
            values = argument_values(expr)
            return bool(values) and _is_progress(values[0])
        return False
    if isinstance(expr, (ast.Name, ast.Attribute)):
        return is_progress_name(last_name(expr) or "")
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Sub):
        return _is_progress(expr.left)
    return False


TL005 = Prefilter(
    # Every finding is a product (`*`, `*=`) or a collection named like a ramp.
    tokens=("*", "ramp", "Ramp", "RAMP", "warm", "Warm", "WARM", "anneal", "Anneal", "ANNEAL"),
    syntax=_tl005_has_a_ramp,
)


# -- TL006 epoch-scheduler-per-batch -------------------------------------------


def _tl006_steps_a_torch_scheduler(index: SyntaxIndex, settings: Mapping[str, Any]) -> bool:
    """A place that steps a scheduler, and a torch scheduler class named in code.

    Mirrors ``EpochSchedulerPerBatch.visit_Call``/``visit_Dict`` (a ``.step()``
    call, a dict with an ``"interval"`` key, a ``*Trainer`` call) and
    ``schedulers.torch_scheduler_name`` (the class's name, or an import of it).
    """
    stepped = any(
        key is not None and isinstance(key, ast.Constant) and key.value == "interval"
        for node in index.nodes(ast.Dict)
        for key in node.keys
    )
    if not stepped:
        for call in index.nodes(ast.Call):
            last = last_name(call.func)
            if last is not None and (
                (last == "step" and isinstance(call.func, ast.Attribute))
                or last.endswith("Trainer")
            ):
                stepped = True
                break
    if not stepped:
        return False
    return (
        any(node.id in TORCH_SCHEDULERS for node in index.nodes(ast.Name))
        or any(node.attr in TORCH_SCHEDULERS for node in index.nodes(ast.Attribute))
        or any(
            alias.name in TORCH_SCHEDULERS
            for node in index.nodes(ast.ImportFrom)
            for alias in node.names
        )
    )


TL006 = Prefilter(
    # A stepped scheduler (`.step()`, Lightning's "interval", HF's `optimizers=`),
    # and the name of a torch scheduler class: `torch_scheduler_name` needs one.
    tokens=(("step", "interval", "optimizers"), tuple(sorted(TORCH_SCHEDULERS))),
    syntax=_tl006_steps_a_torch_scheduler,
)
