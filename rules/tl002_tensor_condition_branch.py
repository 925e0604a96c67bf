"""TL002 tensor-condition-branch: Python control flow decided by a tensor in differentiable code."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from torchlint.lazy import lazy_module
from torchlint.prefilter import Prefilter, text_tokens
from torchlint.rule import Invalid, Rule, RuleOption
from torchlint.semantics.conditions import (
    LOGGING_CALLS,
    condition_atoms,
    is_categorical_or_size_check,
    is_emptiness_check,
    is_none_comparison,
    mentions_nan_check,
    only_clamps,
    only_raises_or_warns,
    only_records_for_logging,
    read_back_tensor,
)
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.differentiable import is_differentiable_context
from torchlint.semantics.losses import may_define_a_loss
from torchlint.semantics.names import syntax_import_aliases, syntax_qualified_names
from torchlint.semantics.provenance import (
    DETACHED,
    INPUT,
    RANDOM_DRAWS,
    UNKNOWN,
    value_sources,
)
from torchlint.semantics.tensors import is_integer_valued, tensor_confidence, torch_call_confidence
from torchlint.semantics.values import lookup, scope_of
from torchlint.semantics.vocabulary import (
    CONVERSION_CALLS,
    COUNT_CALLS,
    DIFFERENTIABLE_TOKENS,
    INDEX_LOOP_CALLS,
    LOSS_WORDS,
    NUMBER_BUILTINS,
    PYTHON_VALUE_BUILTINS,
    SIGNED_MEASURE_CALLS,
    SIZE_ATTRIBUTES,
    SIZE_CALLS,
    VIEW_ATTRIBUTES,
    is_count_name,
    is_driver_name,
    is_loss_name,
    name_words,
)
from torchlint.syntax import SyntaxIndex, argument_values, last_name

cst = lazy_module("libcst", globals(), "cst")

# -- cheap stage: what a file must contain for this rule to flag it ------------

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
    ``is_emptiness_check``, the first step of ``_syntax_names_bookkeeping``, and the
    literals ``tensor_confidence`` rates NONE.  Differentiable code needs a
    ``forward`` or a loss function in the file (``differentiable_root``).
    """
    has_forward = any(
        node.name == "forward" for node in index.nodes(ast.FunctionDef, ast.AsyncFunctionDef)
    )
    if not has_forward and not may_define_a_loss(index):
        return False
    kinds = (ast.If, ast.While, ast.IfExp)
    flag_guards = bool(settings.get("flag-guards"))
    if flag_guards:
        kinds = (*kinds, ast.Assert)
    deciding = [
        node
        for node in index.nodes(*kinds)
        if (flag_guards or not _only_raises_or_warns(node))
        and any(
            _may_decide(index, atom, node) or (flag_guards and _may_guard(atom))
            for atom in _condition_atoms(node.test)
        )
    ]
    if not deciding:
        return False
    called = index.memo("called_names", _called_names)
    return any(
        chain and _may_be_differentiated(chain, called)
        for _, chain in _enclosing_functions(index, deciding)
    )


def _only_raises_or_warns(node: ast.AST) -> bool:
    """Mirrors ``conditions.only_raises_or_warns`` (a guard ``_is_guard`` keeps quiet)."""
    if not isinstance(node, (ast.If, ast.While)):
        return False
    if isinstance(node, ast.If) and node.orelse:
        return False
    for statement in node.body:
        if isinstance(statement, (ast.Raise, ast.Assert, ast.Pass, ast.Continue)):
            continue
        if (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Call)
            and last_name(statement.value.func) in LOGGING_CALLS
        ):
            continue
        return False
    return True


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


def _may_decide(index: SyntaxIndex, atom: ast.AST, node: ast.AST | None = None) -> bool:
    if not isinstance(atom, ast.Compare) or any(isinstance(op, _MEMBERSHIP) for op in atom.ops):
        return False
    if _is_categorical_or_size(index, atom) or _is_emptiness_check(atom):
        return False
    for side in (atom.left, *atom.comparators):
        inner = _read_back(side)
        if _syntax_names_bookkeeping(inner):
            return False  # the rule stops at the first bookkeeping side
        if not _never_a_tensor(index, inner) and not _random_draw(index, inner, node):
            return True
    return False


def _random_draw(index: SyntaxIndex, expr: ast.AST, node: ast.AST | None) -> bool:
    """A name that holds only a ``torch.rand``-like draw where ``node`` tests it.

    ``value_sources`` gives such a name ``RANDOM`` alone, which never decides
    (``dropout_probability = torch.rand([])`` then ``if dropout_probability <
    self.layerdrop:``, LayerDrop).  Told when every binding of the name in the
    file is ``name = <torch random draw>`` (no ``requires_grad``), it is never
    filled in place, and one of those assignments comes before ``node`` in a
    block around it, so that ``lookup`` finds it.
    """
    if not isinstance(expr, ast.Name) or not isinstance(node, (ast.If, ast.While)):
        return False
    assignments = index.memo("random_draws", _random_draws).get(expr.id)
    if not assignments:
        return False
    where = index.memo("statement_places", _statement_places)
    current: ast.AST = node
    while id(current) in where:
        statements, position, owner = where[id(current)]
        if any(statement in assignments for statement in statements[:position]):
            return True
        if not isinstance(owner, ast.stmt) or isinstance(
            owner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        ):
            return False
        current = owner
    return False


def _random_draws(index: SyntaxIndex) -> dict[str, list]:
    """Names bound only by ``name = torch.rand(...)``-like draws, with those assignments."""
    draws: dict[str, list] = {}
    drawn_targets: set[int] = set()
    for node in index.nodes(ast.Assign):
        if all(isinstance(target, ast.Name) for target in node.targets) and _is_random_draw(
            index, node.value
        ):
            for target in node.targets:
                draws.setdefault(target.id, []).append(node)  # type: ignore[attr-defined]
                drawn_targets.add(id(target))
    if not draws:
        return draws
    other: set[str] = set()
    for name in index.nodes(ast.Name):
        if not isinstance(name.ctx, ast.Load) and id(name) not in drawn_targets:
            other.add(name.id)
    other.update(arg.arg for arg in index.nodes(ast.arg))
    for node in index.nodes(ast.Import, ast.ImportFrom):
        other.update((alias.asname or alias.name).split(".", 1)[0] for alias in node.names)
    for node in index.nodes(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
        other.add(node.name)
    for node in index.nodes(ast.Global, ast.Nonlocal):
        other.update(node.names)
    for node in index.nodes(ast.ExceptHandler):
        if node.name:
            other.add(node.name)
    for kind in _CAPTURE_PATTERNS + _MAPPING_PATTERNS:
        for node in index.nodes(kind):
            other.add(getattr(node, "name", None) or getattr(node, "rest", None) or "")
    # Filled in place (`_mutated_names`): `x[i] = v`, `x.copy_(v)`.
    for node in index.nodes(ast.Subscript):
        if not isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name):
            other.add(node.value.id)
    for call in index.nodes(ast.Call):
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr.endswith("_")
            and isinstance(func.value, ast.Name)
        ):
            other.add(func.value.id)
    return {name: found for name, found in draws.items() if name not in other}


def _is_random_draw(index: SyntaxIndex, value: ast.AST) -> bool:
    """``torch.rand(...)`` and the other draws ``value_sources`` rates ``RANDOM``."""
    if not isinstance(value, ast.Call) or any(
        keyword.arg in (None, "requires_grad") for keyword in value.keywords
    ):
        return False
    if not index.memo("imports_read", _imports_read):
        return False
    qualified = syntax_qualified_names(index, value.func)
    return bool(qualified) and all(
        name.startswith("torch.") and name.rsplit(".", 1)[-1] in RANDOM_DRAWS for name in qualified
    )


def _statement_places(index: SyntaxIndex) -> dict[int, tuple[list, int, ast.AST]]:
    """Each statement's block, its position there, and the node that owns the block."""
    places: dict[int, tuple[list, int, ast.AST]] = {}
    stack: list[ast.AST] = [index.tree]
    while stack:
        owner = stack.pop()
        blocks = [getattr(owner, field, None) for field in ("body", "orelse", "finalbody")]
        for handler in getattr(owner, "handlers", None) or ():
            blocks.append(handler.body)
        for case in getattr(owner, "cases", None) or ():
            blocks.append(case.body)
        for block in blocks:
            if not isinstance(block, list):
                continue
            for position, statement in enumerate(block):
                if isinstance(statement, ast.stmt):
                    places[id(statement)] = (block, position, owner)
                    stack.append(statement)
    return places


def _may_guard(atom: ast.AST) -> bool:
    """With ``flag-guards``: a call (``torch.isnan(x).any()``) or an emptiness check.

    A superset of the atoms ``_guard_sides`` reads: emptiness checks and
    anything that calls a NaN check are comparisons or calls.
    """
    if isinstance(atom, ast.Call):
        return True
    return isinstance(atom, ast.Compare) and not any(isinstance(op, _MEMBERSHIP) for op in atom.ops)


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
    signed = _read_back(counted)
    if (
        isinstance(atom.ops[0], (ast.Lt, ast.LtE, ast.Gt, ast.GtE))
        and isinstance(signed, ast.Call)
        and last_name(signed.func) in SIGNED_MEASURE_CALLS
    ):
        return False  # the sign of a mean: `conditions._tests_a_sign` decides
    if _is_integer(literal) and limit == 0:
        return True
    counted = _read_back(counted)
    if isinstance(counted, ast.Call) and last_name(counted.func) in COUNT_CALLS:
        return True
    return isinstance(counted, ast.Name) and is_count_name(counted.id)


def _syntax_names_bookkeeping(expr: ast.AST) -> bool:
    """The first step of ``tl002._syntax_names_bookkeeping``: a name in the expression itself."""
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


# How far `_never_a_tensor` follows names and operators before it gives up.
_MAX_NEVER_TENSOR_DEPTH = 8
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
    if depth > _MAX_NEVER_TENSOR_DEPTH:
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
        if isinstance(func, ast.Attribute):
            return _imported_call_rated_low(index, func)
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


def _imported_call_rated_low(index: SyntaxIndex, func: ast.Attribute) -> bool:
    """``np.random.rand()``, ``torch.device("meta")``: an imported function rated LOW.

    ``_TensorAnalysis._call`` rates a call that ``resolve_callee`` finds
    ``external`` LOW at most, and one it finds ``torch`` by
    ``torch_call_confidence``.  Told when the callee is a dotted chain whose
    head is imported (every import of it rated below MEDIUM) and is not the
    name of a class of the file (``Cls.method``), in a file whose imports the
    import table reads (:func:`_imports_read`).
    """
    head = func.value
    while isinstance(head, ast.Attribute):
        head = head.value
    if not isinstance(head, ast.Name) or not index.memo("imports_read", _imports_read):
        return False
    if head.id in index.memo("class_names", _class_names):
        return False
    aliases, _ = syntax_import_aliases(index)
    if head.id not in aliases:
        return False
    return all(
        torch_call_confidence(name) < Confidence.MEDIUM
        for name in syntax_qualified_names(index, func)
    )


def _imports_read(index: SyntaxIndex) -> bool:
    """Whether ``collect_imports`` reads every import of the file.

    It scans indented blocks only: not a ``match`` case, nor a one-line suite
    (``if TYPE_CHECKING: import numpy as np``); an import with anything before
    it on its line may be in one.
    """
    if index.nodes(*_MATCH):
        return False
    lines = index.memo("lines", _lines)
    for node in index.nodes(ast.Import, ast.ImportFrom):
        line = lines[node.lineno - 1] if node.lineno <= len(lines) else b""
        if line[: node.col_offset].strip():
            return False
    return True


def _class_names(index: SyntaxIndex) -> frozenset[str]:
    return frozenset(node.name for node in index.nodes(ast.ClassDef))


_MATCH = tuple(getattr(ast, name) for name in ("Match",) if hasattr(ast, name))


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


PREFILTER = Prefilter(
    # A condition, inside differentiable code.
    tokens=(text_tokens(("if", "while", "assert", " and ", " or ", "not ")), DIFFERENTIABLE_TOKENS),
    syntax=_tl002_compares_a_tensor,
)


# -- judgement ------------------------------------------------------------------


class TensorConditionBranch(Rule):
    """Python `if`/`while`/`and`/`or`/`assert` decided by a tensor value in differentiable code.

    ## What it does
    Flags Python control flow whose condition compares a tensor value (`if
    saturation < 0.1:`, `if torch.mean(a) < torch.mean(b):`, `x if t.max() >
    1 else y`, `while err > tol:`, also inside `and`/`or`/`not`) inside a
    module's `forward`, a loss function, or a function or method of the same
    file that they call. `torch`, `nn` and `F` may come from a project module
    through `from utils import *`.

    Not tensor data: shapes, `x.dim()`, `len(x)`, `x is None` and `x ==
    None` (a Python bool whatever the tensor holds), `self.training`, config
    flags, NumPy values, random draws, and a hyper-parameter turned into a
    tensor (`beta = torch.as_tensor(beta)` of a `beta: float`). Not a
    decision: integer bookkeeping (position ids, lengths, `fn_id == 2`
    dispatch, and integer or boolean tensors that count, index or mask,
    such as `torch.sum((labels == 1).int(), 1)[i] > quota` when sampling
    targets), and a branch that only clamps or projects the value it tests
    (`if d > hi: d = hi`, `while x >= 1 - 1e-5: x = x - 1e-5`, `if n > eps:
    v = v * eps / n` where `n` is the norm of `v`, `hi if x > hi else x`):
    both outcomes meet at the threshold, so nothing jumps; nor a branch that
    only sets a flag which is then only logged (`if torch.mean(y) > 100:
    large = 1` before `wandb.log({"large": large})`). The sign of a mean or
    median (`if torch.mean(h) > 0:`) is a measurement, not an emptiness
    check, although it compares with the integer 0.
    Guards that only protect the computation (NaN/inf checks, "no positives
    in this batch", a branch that only raises or warns, an `assert`) are
    flagged only with `flag-guards = true`.

    ### Real code
    On the labelled real-code set (`bench/realworld.py`): 2 of the 3 TL002
    bug rows found: b16, a U-Net that swaps its two output maps when
    `torch.mean(d_1) < torch.mean(d_2)` (torch reached only through a star
    import), and b17, a reconstruction network that picks its acceleration
    from `torch.mean(mask.float()) < 0.16`. Every look-alike row stays
    quiet (an empty-class guard, an epsilon clamp before a logit, `flow !=
    None`, a float `beta` made a tensor, anchor-label sampling by counts, a
    PGD projection onto the epsilon ball). The 51 sweep repositories give 2
    findings, both true: an SSIM loss that picks its dynamic range from the
    batch max and min, so its constants change with the batch.

    Held-out check (code the rule was not built on, found by searching public
    code for the shape): 3 of 3 instances found, one of them only after the
    sign test above: a feed-forward network that picks ReLU or sigmoid per
    batch from `torch.mean(x) > 0.5`, a sparse-model test network that
    applies ReLU only when `torch.mean(x) > 0` (missed before: read as an
    emptiness check), and a VAE loss that renormalises its target when
    `torch.max(x) > 1.1 or torch.min(x) < -0.1`. Look-alikes: a Perceiver
    that sets a flag from `torch.mean(x) > 100` only to log it was flagged
    (false) until logged flags were exempt; a padding stop (`if
    torch.mean(x) == 0: break`) and a range warning (`if torch.max(x) > 1
    ...: print(...)`) stay quiet. Sweep of 14 training repositories outside
    the labelled set (SwinIR, NAFNet, Zero-DCE and Zero-DCE++, DETR, YOLOS,
    DeepLabV3Plus-Pytorch, yolov5, yolov7, guided-diffusion, MPRNet,
    detectron2, mmrotate, vector-quantize-pytorch; about 175 k lines): no
    TL002 finding. Fewer than the five instances a held-out check wants:
    public code holds this shape mostly in tutorials and pandas code.

    Out of scope, on purpose: bare truthiness (`if bool(x.max()):`, `if
    mask.any():`), which in real code is a zero or emptiness guard (b18, an
    AMBIG row, divides by the batch max only when it is not zero: the batch
    coupling is in the division, not the branch); a degenerate-batch guard
    written as a threshold (`if spread < 1e-6: return fallback`), which
    reads like a real decision (`if std < 1e-3: return x`) and is still
    flagged; and counts of a mask (`(pred > 0.5).sum() > k`), which count
    things rather than measure them even when the mask comes from the
    model's output (a fraction, `(pred > 0.5).float().mean() > 0.9`, is a
    measurement again and is flagged).

    ## Why is this bad?
    The branch is chosen per batch from the data, and no gradient flows
    through the choice: the model's output jumps between two functions at a
    threshold the optimiser cannot see, so it learns an inconsistent mapping
    (the seed's saturation boost gave a 2 dB train/validation gap). Every such
    `if` also forces a GPU-to-CPU sync, and breaks `torch.compile` graphs.

    ## Example
    ```python
    def forward(self, x):
        enhanced = self.decoder(x)
        saturation = enhanced.std(dim=1).mean()
        if saturation < 0.1:
            enhanced = enhanced * 1.5
        return enhanced
    ```

    ## Use instead
    ```python
    def forward(self, x):
        enhanced = self.decoder(x)
        saturation = enhanced.std(dim=1).mean()
        boost = torch.clamp((0.1 - saturation) / 0.1, 0.0, 1.0)
        return enhanced * (1.0 + 0.5 * boost)
    ```

    ## Evidence
    Measured by `torchlint confirm TL002 --device cpu` (CPU, x86_64, 2 cores, torch 2.13.0,
    seeds 0-4, 5 buggy and 5 fixed runs; full output in [evidence.md](../evidence.md)). Buggy vs
    fixed:

    - **Confirmed**: `torch.compile(fullgraph=True)` fails on the buggy forward and compiles the
      fixed one.
    - **Confirmed**: 1 host sync per forward vs 0.
    - **Confirmed**: the same sample scored alone and in a batch of 64 differs by 0.17-0.23
      (fixed: at most 6e-8).
    - **Confirmed**: validation MSE scored one sample at a time is 1.6-4.8x the MSE scored in
      batches (fixed: 1.0x): a train/val mismatch.
    - **Confirmed**: the output jumps by 0.19 where the condition flips (smooth fix: 0.003).
    - **Inconclusive**: scored one sample at a time, the buggy model is 1.03-1.30x worse.

    A `torch.where` rewrite removes the sync and the batch coupling but keeps the 0.19 jump;
    only the smooth rewrite removes it.
    """

    code = "TL002"
    name = "tensor-condition-branch"
    summary = "Python control flow is decided by a tensor value inside differentiable code"
    fix_hint = "blend both outcomes with torch.where(cond, a, b) or a smooth weight"
    prefilter = PREFILTER
    variants = {
        "forward": ["forward", "__call__", *sorted(LOSS_WORDS)],
        "saturation": sorted(BOOKKEEPING_WORDS),
    }
    options = {
        "flag-guards": RuleOption(
            bool,
            False,
            "also flag NaN/inf checks, emptiness checks and branches that only raise or warn",
        )
    }
    valid = [
        """
import torch.nn as nn

class Block(nn.Module):
    def forward(self, x, mask=None):
        if x.dim() == 3 and mask is not None:
            x = x * mask
        if self.training:
            x = x + 0.1
        return x
""",
        """
import torch

def masked_l1_loss(pred, target, mask):
    if mask.sum() == 0:
        return pred.sum() * 0
    if torch.isnan(target).any():
        raise ValueError("NaN target")
    return (torch.abs(pred - target) * mask).sum() / mask.sum()
""",
        """
def train(model, loader, opt, best=float("inf")):
    for x, y in loader:
        val_loss = model(x).sub(y).pow(2).mean()
        if val_loss < best:
            best = val_loss
""",
    ]
    invalid = [
        Invalid(
            """
import torch
import torch.nn as nn

class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(16, 3, 1)

    def forward(self, x):
        out = torch.sigmoid(self.proj(x))
        saturation = out.std(dim=1).mean()
        if saturation < 0.1:
            out = out * 1.5
        return out
""",
            line=13,
            message="Python if decided by the tensor value `saturation < 0.1`",
        ),
        Invalid(
            """
import torch

def contrast_loss(a, b):
    return (a - b).abs().mean() if torch.mean(a) < torch.mean(b) else (b - a).abs().mean()
""",
            line=5,
            message="Python conditional expression decided by the tensor value `t",
        ),
    ]

    # Each visitor passes the node the walk has reached (its children are not
    # in the parent map yet), which places the condition in its function.
    def __init__(self, context, settings=None) -> None:
        super().__init__(context, settings)
        self._conditions: list[tuple] = []

    def visit_If(self, node: cst.If) -> None:
        self._conditions.append((node.test, node, node, "if"))

    def visit_While(self, node: cst.While) -> None:
        self._conditions.append((node.test, node, node, "while"))

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._conditions.append((node.test, node, None, "conditional expression"))

    def visit_Assert(self, node: cst.Assert) -> None:
        self._conditions.append((node.test, node, None, "assert"))

    def leave_Module(self, node: cst.Module) -> None:
        # Decided after the walk, when the call index (which functions are
        # differentiated) is read off the parent map instead of a second walk.
        for test, reached, statement, kind in self._conditions:
            self._check(test, reached, statement, kind)

    def _check(
        self,
        test: cst.BaseExpression,
        reached: cst.CSTNode,
        statement: cst.CSTNode | None,
        kind: str,
    ) -> None:
        # Cheapest first: the shape of the condition, then whether the code is
        # differentiated (per function, cached), then following values to tensors.
        atoms = list(condition_atoms(test))
        flag_guards = bool(self.settings.get("flag-guards"))
        candidates = []
        for atom in atoms:
            sides = [] if is_emptiness_check(atom) else _compared_sides(atom)
            if sides:
                candidates.append((atom, sides, False))
            elif flag_guards:
                sides = _guard_sides(atom)
                if sides:
                    candidates.append((atom, sides, True))
        if not candidates:
            return
        if is_differentiable_context(self.context, reached) < Confidence.MEDIUM:
            return
        scope = scope_of(self.context, reached)
        if scope is None:
            return
        deciding = [
            atom
            for atom, sides, guard in candidates
            if self._decided_by_tensor(sides, scope, guard)
        ]
        # A clamp or projection of the tested value is continuous at the threshold.
        branch = statement if statement is not None else reached
        deciding = [atom for atom in deciding if not only_clamps(self.context, branch, atom, scope)]
        if not deciding:
            return
        if not flag_guards and self._is_guard(test, atoms, statement, kind):
            return
        text = self.context.snippet(deciding[0], 50, collapse_whitespace=True)
        self.report(
            test,
            f"Python {kind} decided by the tensor value `{text}` in differentiable code: the "
            "branch is picked per batch with no gradient through the choice, so the output "
            "jumps between two functions at a threshold training cannot see (and the GPU "
            "syncs on every call); blend both outcomes with `torch.where(cond, a, b)` or a "
            "smooth weight such as `torch.sigmoid((threshold - value) / temperature)`",
        )

    def _decided_by_tensor(self, sides, scope, guard: bool) -> bool:
        for side in sides:
            inner = read_back_tensor(side)
            if _names_bookkeeping(self.context, inner, scope, 0):
                return False  # compared with an index or a length: bookkeeping
            if not guard and is_integer_valued(self.context, inner, scope):
                continue  # a count, an index or a mask: counts things, measures nothing
            if tensor_confidence(self.context, inner, scope) >= Confidence.MEDIUM:
                sources = value_sources(self.context, inner, scope)
                if sources & {INPUT, DETACHED, UNKNOWN}:
                    return True
        return False

    def _is_guard(self, test, atoms, statement, kind) -> bool:
        if kind == "assert":
            return True  # an assert stops training loudly; it never picks a computation
        if any(mentions_nan_check(atom) for atom in atoms):
            return True
        if all(is_emptiness_check(atom) for atom in atoms):
            return True
        return statement is not None and (
            only_raises_or_warns(statement) or only_records_for_logging(self.context, statement)
        )


def _compared_sides(atom: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The operands of a comparison that could let a tensor decide (empty if none can)."""
    # A bare value (`if cache:`, `x or {}`) is a flag or a None check in real code; a
    # tensor decides a branch through a comparison (`if saturation < 0.1:`).
    if not isinstance(atom, cst.Comparison) or is_categorical_or_size_check(atom):
        return []
    if is_none_comparison(atom):
        return []  # `flow != None` is a Python bool whatever the tensor holds
    if any(
        isinstance(t.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for t in atom.comparisons
    ):
        return []
    return [atom.left, *(t.comparator for t in atom.comparisons)]


def _guard_sides(atom: cst.BaseExpression) -> list[cst.BaseExpression]:
    """What a guard tests (``flag-guards``): ``torch.isnan(x).any()``, ``mask.sum() == 0``."""
    if not (is_emptiness_check(atom) or mentions_nan_check(atom)):
        return []
    if isinstance(atom, cst.Comparison):
        if is_none_comparison(atom) or any(
            isinstance(t.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for t in atom.comparisons
        ):
            return []
        return [atom.left, *(t.comparator for t in atom.comparisons)]
    return [atom] if isinstance(atom, cst.Call) else []


def _names_bookkeeping(context, expr: cst.BaseExpression, scope, depth: int) -> bool:
    """``seq_len``, ``token_indices[i] - start``, ``width / height``: integer bookkeeping.

    Names are read with the names their value was computed from (two steps back),
    so ``ratio = orig_width / orig_height`` is bookkeeping too.
    """
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            if any(word in BOOKKEEPING_WORDS for word in name_words(node.value)):
                return True
            if depth < 2 and scope is not None:
                bindings, found_scope = lookup(context, node.value, scope)
                for binding in bindings:
                    if binding.kind in ("assign", "unpack") and binding.value is not None:
                        value_scope = found_scope.at(binding)
                        if _names_bookkeeping(context, binding.value, value_scope, depth + 1):
                            return True
        elif isinstance(node, cst.BinaryOperation):
            stack.extend((node.left, node.right))
        elif isinstance(node, cst.Subscript):
            stack.append(node.value)
    return False
