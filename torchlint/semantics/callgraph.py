"""Who calls whom inside one file: callees of a call, callers of a function.

``self.head(x)`` where ``__init__`` set ``self.head = RefineHead(...)`` calls
``RefineHead.forward``; ``self._decode(x)`` calls a method of the class (or
of a base class defined in the same file); ``helper(x)`` calls a function of
the module; ``nn.Sigmoid()(x)`` and ``self.act(x)`` with ``self.act =
nn.Sigmoid()`` call a torch module.  Anything else is a torch function named
by its qualified name, or unknown.  Unlike a lookup by name, this resolves
through the value-following of :mod:`torchlint.semantics.values`, so it
works before the walk has reached the code it is asked about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from torchlint import walk as walk_module
from torchlint.lazy import lazy_module
from torchlint.semantics.confidence import Confidence
from torchlint.semantics.names import dotted_name
from torchlint.semantics.values import Flow, Scope, flow_of, lookup, self_attribute
from torchlint.walk import iter_children

cst = lazy_module("libcst", globals(), "cst")

if TYPE_CHECKING:
    from torchlint.context import FileContext

    pass

_MAX_DEPTH = 6


@dataclass(frozen=True)
class Callee:
    """What a call runs.

    ``kind``: ``function`` (a module-level or nested function of this file),
    ``method`` (a method of a class of this file), ``module`` (an instance of
    a class of this file: its ``forward``), ``torch_module`` (an instance of
    a ``torch.nn`` class; ``constructor`` is the ``nn.X(...)`` call),
    ``torch_module_class`` (``nn.X(...)`` itself), ``constructor``
    (instantiating a class of this file), ``torch`` (a torch function named
    ``qualified``), ``external`` (another imported function), or ``unknown``.
    """

    kind: str
    function: cst.FunctionDef | None = None
    cls: cst.ClassDef | None = None
    qualified: str | None = None
    constructor: cst.Call | None = None
    scope: Scope | None = None


UNKNOWN = Callee("unknown")


def owner_class(context: FileContext, fn: cst.FunctionDef | None) -> cst.ClassDef | None:
    """The class of this file whose body defines ``fn`` (works before the walk reaches it)."""
    model = context.semantics
    if fn is None:
        return None
    table = model.cache.get("callgraph.owner_class")
    if table is None:
        table = {}
        for cls in model.classes.values():
            for method in model.methods(cls).values():
                table[method] = cls
        model.cache["callgraph.owner_class"] = table
    return table.get(fn)


def local_bases(context: FileContext, cls: cst.ClassDef) -> list[cst.ClassDef]:
    """``cls`` and its base classes defined in this file, nearest first."""
    model = context.semantics
    chain = [cls]
    seen = {cls}
    index = 0
    while index < len(chain):
        current = chain[index]
        index += 1
        for arg in current.bases:
            name = dotted_name(arg.value)
            base = model.classes.get(name.rsplit(".", 1)[-1]) if name else None
            if base is not None and base not in seen:
                seen.add(base)
                chain.append(base)
    return chain


def find_method(context: FileContext, cls: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    """Method ``name`` of ``cls`` or of a base class defined in this file."""
    model = context.semantics
    for klass in local_bases(context, cls):
        method = model.methods(klass).get(name)
        if method is not None:
            return method
    return None


def init_values(context: FileContext, cls: cst.ClassDef, attr: str) -> list[tuple]:
    """``(value, scope)`` of each ``self.attr = value`` in ``__init__`` of ``cls`` or its bases."""
    model = context.semantics
    for klass in local_bases(context, cls):
        values = model.init_attributes(klass).get(attr)
        if values:
            init = model.methods(klass)["__init__"]
            flow = flow_of(context, init)
            wanted = {id(value) for value in values}
            found = []
            for statement in flow.order_of:
                if isinstance(statement, cst.SimpleStatementLine):
                    for small in statement.body:
                        value = getattr(small, "value", None)
                        if isinstance(small, (cst.Assign, cst.AnnAssign)) and id(value) in wanted:
                            found.append((value, flow.scope_at(statement)))
            return found or [(value, flow.end_scope()) for value in values]
    return []


def is_module_class_name(qualified: str) -> bool:
    """``torch.nn.Sigmoid``, ``torch.nn.modules.activation.Tanh``: a torch module class."""
    head, _, last = qualified.rpartition(".")
    return head.startswith("torch.nn") and last[:1].isupper()


def module_held_by(
    context: FileContext, expr: cst.BaseExpression, scope: Scope | None, depth: int = 0
) -> Callee | None:
    """The module instance ``expr`` holds, if it can be told: a torch or local class."""
    model = context.semantics
    if depth > _MAX_DEPTH or scope is None:
        return None
    if isinstance(expr, cst.Call):
        qualified = model.qualified_name(expr.func)
        if qualified and is_module_class_name(qualified):
            return Callee("torch_module", qualified=qualified, constructor=expr, scope=scope)
        name = dotted_name(expr.func)
        if name and name in model.classes:
            return Callee("module", cls=model.classes[name], constructor=expr, scope=scope)
        return None
    attr = self_attribute(expr)
    if attr is not None:
        cls = owner_class(context, scope.flow.function)
        if cls is None:
            return None
        held = None
        for value, value_scope in init_values(context, cls, attr):
            held = module_held_by(context, value, value_scope, depth + 1) or held
        return held
    if isinstance(expr, cst.Name):
        bindings, found_scope = lookup(context, expr.value, scope)
        for binding in bindings:
            if binding.kind == "assign" and binding.value is not None:
                held = module_held_by(context, binding.value, found_scope.at(binding), depth + 1)
                if held is not None:
                    return held
    return None


def resolve_callee(context: FileContext, call: cst.Call, scope: Scope | None) -> Callee:
    """What ``call`` runs, as far as this file tells."""
    model = context.semantics
    func = call.func
    if isinstance(func, cst.Call):
        return module_held_by(context, func, scope) or UNKNOWN
    if scope is not None:
        attr = self_attribute(func)
        if attr is not None:
            cls = owner_class(context, scope.flow.function)
            if cls is not None:
                method = find_method(context, cls, attr)
                if method is not None:
                    return Callee("method", function=method, cls=cls)
                return module_held_by(context, func, scope) or UNKNOWN
            return UNKNOWN
        if isinstance(func, cst.Name):
            bindings, found_scope = lookup(context, func.value, scope)
            for binding in bindings:
                if binding.kind == "def":
                    node = binding.statement
                    if isinstance(node, cst.FunctionDef):
                        return Callee("function", function=node)
                    if isinstance(node, cst.ClassDef):
                        return Callee("constructor", cls=node)
                if binding.kind == "assign" and binding.value is not None:
                    held = module_held_by(context, binding.value, found_scope.at(binding))
                    if held is not None:
                        return held
            if bindings and not any(b.kind == "import" for b in bindings):
                return UNKNOWN
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
        cls = model.classes.get(func.value.value)
        if cls is not None:
            method = find_method(context, cls, func.attr.value)
            if method is not None:
                return Callee("method", function=method, cls=cls)
    qualified = model.qualified_name(func)
    if qualified is not None:
        if is_module_class_name(qualified):
            return Callee("torch_module_class", qualified=qualified)
        is_torch = qualified == "torch" or qualified.startswith("torch.")
        return Callee("torch" if is_torch else "external", qualified=qualified)
    if isinstance(func, cst.Name) and func.value in model.functions:
        return Callee("function", function=model.functions[func.value])
    if isinstance(func, cst.Name) and func.value in model.classes:
        return Callee("constructor", cls=model.classes[func.value])
    return UNKNOWN


def callee_function(context: FileContext, callee: Callee) -> cst.FunctionDef | None:
    """The function of this file that runs for ``callee`` (a module's ``forward``)."""
    if callee.kind in ("function", "method"):
        return callee.function
    if callee.kind == "module" and callee.cls is not None:
        return find_method(context, callee.cls, "forward") or find_method(
            context, callee.cls, "__call__"
        )
    return None


def call_sites(context: FileContext) -> list[tuple[cst.Call, Scope]]:
    """Every call in the file with the scope it is evaluated in, in context order.

    The one call index of a file: built once (before or after the walk) and
    kept in ``model.cache``; :func:`calls_named` and :func:`callers` are views
    of it.
    """
    model = context.semantics
    found = model.cache.get("callgraph.call_sites")
    if found is not None:
        return found
    if _walk_is_complete(context):
        found = _call_sites_from_parents(context)
        model.cache["callgraph.call_sites"] = found
        return found
    found = []
    call_type = cst.Call
    function_type = cst.FunctionDef
    # The walker's child enumeration, inlined and recursive like the walk: this
    # runs once per node of the file.
    node_types = walk_module._node_type_cache
    is_node_type = walk_module.is_node_type
    child_fields = walk_module.child_fields
    statement_types = _statement_type_cache
    leaves = walk_module.leaf_types()

    def visit(node, flow: Flow, statement) -> None:
        kind = type(node)
        is_statement = statement_types.get(kind)
        if is_statement is None:
            is_statement = _is_statement_type(kind)
        if is_statement:
            if kind is function_type:
                inner = flow_of(context, node)
                body = node.body
                for child in iter_children(node):
                    if child is body:
                        for inner_child in _block(child):
                            visit(inner_child, inner, None)
                    else:
                        visit(child, flow, node)
                return
            statement = node
        elif kind is call_type:
            found.append((node, flow.scope_at(statement)))
        for field_name in child_fields(kind):
            value = getattr(node, field_name)
            value_kind = type(value)
            if value_kind is tuple or value_kind is list:
                for item in value:
                    item_kind = type(item)
                    is_node = node_types.get(item_kind)
                    if is_node is None:
                        is_node = is_node_type(item_kind)
                    if is_node and item_kind not in leaves:
                        visit(item, flow, statement)
            else:
                is_node = node_types.get(value_kind)
                if is_node is None:
                    is_node = is_node_type(value_kind)
                if is_node and value_kind not in leaves:
                    visit(value, flow, statement)

    visit(model.module, flow_of(context, None), None)
    model.cache["callgraph.call_sites"] = found
    return found


class WalkNotFinished(RuntimeError):
    """An analysis that needs the whole file's parent map was asked during the walk."""


def require_finished_walk(context: FileContext, analysis: str) -> None:
    """Raise :class:`WalkNotFinished` unless the walk has reached every node of the file.

    Analyses that find callers or call sites through the parent map give
    incomplete answers before then; a rule asks them from ``leave_Module``.
    """
    if not context.semantics.cache.get("callgraph.walk_finished"):
        if not _walk_is_complete(context):
            raise WalkNotFinished(f"{analysis}() needs the finished walk: ask it from leave_Module")
        context.semantics.cache["callgraph.walk_finished"] = True


def _walk_is_complete(context: FileContext) -> bool:
    """Whether the walk has reached every node (its last node, in walk order, is known)."""
    model = context.semantics
    parents = model.context.parents
    node = model.module
    while True:
        if node not in parents:
            return False
        children = list(iter_children(node))
        if not children:
            return True
        node = children[-1]


def _call_sites_from_parents(context: FileContext) -> list[tuple[cst.Call, Scope]]:
    """The call index read off the parent map of a finished walk (same calls, same order).

    A call's statement is its innermost statement; its flow is that of the
    function around that statement, except in a ``def`` header (decorators,
    defaults, annotations), which is evaluated where the ``def`` stands.
    """
    model = context.semantics
    parents = model.context.parents
    call_type = cst.Call
    function_type = cst.FunctionDef
    statement_types = _statement_type_cache
    found = []
    for node in parents:
        if type(node) is not call_type:
            continue
        statement = None
        owner = None
        ancestor = parents[node]
        while ancestor is not None:
            kind = type(ancestor)
            if statement is None:
                is_statement = statement_types.get(kind)
                if is_statement is None:
                    is_statement = _is_statement_type(kind)
                if is_statement:
                    statement = ancestor
            elif kind is function_type:
                owner = ancestor
                break
            ancestor = parents[ancestor]
        found.append((node, flow_of(context, owner).scope_at(statement)))
    return found


_statement_type_cache: dict[type, bool] = {}


def _is_statement_type(kind: type) -> bool:
    known = _statement_type_cache.get(kind)
    if known is None:
        known = _statement_type_cache[kind] = issubclass(
            kind, (cst.SimpleStatementLine, cst.BaseCompoundStatement)
        )
    return known


def _block(body: cst.BaseSuite):
    if isinstance(body, cst.IndentedBlock):
        return list(body.body)
    return list(iter_children(body))


def callee_last(call: cst.Call) -> str | None:
    """The last name of the callee: ``get_loss`` for ``self.get_loss(x)``."""
    func = call.func
    kind = type(func)
    if kind is cst.Name:
        return func.value
    if kind is cst.Attribute:
        return func.attr.value
    return None


def calls_named(context: FileContext) -> dict[str, list[cst.Call]]:
    """The calls of :func:`call_sites`, keyed by the callee's last name (context order)."""
    model = context.semantics
    table = model.cache.get("callgraph.calls_named")
    if table is None:
        table = {}
        for call, _ in call_sites(context):
            name = callee_last(call)
            if name is not None:
                table.setdefault(name, []).append(call)
        model.cache["callgraph.calls_named"] = table
    return table


# Method names that `obj.<name>()` calls on many unrelated objects (`model.train()`,
# `optimizer.step()`): a call by one of these names alone says nothing about which
# class's method runs.
_GENERIC_METHOD_NAMES = frozenset(
    {
        "train",
        "eval",
        "forward",
        "step",
        "update",
        "run",
        "fit",
        "save",
        "load",
        "reset",
        "close",
        "get",
        "set",
        "apply",
        "log",
        "zero_grad",
        "backward",
        "to",
        "cuda",
        "cpu",
        "state_dict",
        "load_state_dict",
        "append",
        "extend",
        "items",
        "keys",
        "values",
        "copy",
        "start",
        "stop",
        "call",
        "__call__",
    }
)


def calls_of(context: FileContext, fn: cst.FunctionDef) -> list[tuple[cst.Call, float]]:
    """Calls of ``fn`` matched by name, each with how sure the match is (0..1).

    Unlike :func:`callers` (which resolves each call through the values it
    follows), this matches ``self.<name>(...)`` (sure), ``<anything>.<name>(...)``
    (less sure) and ``<name>(...)``: looser, for the loop analysis.  Ask after
    the walk (it uses the parent map to find the class of a method).
    """
    model = context.semantics
    owner = model.class_of_method(fn)
    named = calls_named(context)
    found = []
    if owner is not None and fn.name.value == "__init__":
        # `Trainer(model, opt, sched)` runs `Trainer.__init__`.
        for call in named.get(owner.name.value, ()):
            if type(call.func) is cst.Name:
                found.append((call, Confidence.HIGH))
        return found
    for call in named.get(fn.name.value, ()):
        func = call.func
        if owner is None:
            if type(func) is cst.Name:
                found.append((call, Confidence.VERY_HIGH))
            continue
        if type(func) is not cst.Attribute:
            continue
        receiver = func.value
        is_self = type(receiver) is cst.Name and receiver.value in ("self", "cls")
        is_super = type(receiver) is cst.Call and callee_last(receiver) == "super"
        if is_self or is_super:
            found.append((call, Confidence.HIGH))
        elif fn.name.value not in _GENERIC_METHOD_NAMES:
            found.append((call, Confidence.LIKELY))
    return found


def callers(context: FileContext, fn: cst.FunctionDef) -> list[tuple[cst.Call, Scope]]:
    """Calls in this file that run ``fn`` (directly, as a method, or as a module's forward)."""
    model = context.semantics
    table = model.cache.get("callgraph.callers")
    if table is None:
        table = {}
        for call, scope in call_sites(context):
            target = callee_function(context, resolve_callee(context, call, scope))
            if target is not None:
                table.setdefault(target, []).append((call, scope))
        model.cache["callgraph.callers"] = table
    return table.get(fn, [])


def bound_argument(
    context: FileContext, call: cst.Call, fn: cst.FunctionDef, parameter: str
) -> cst.BaseExpression | None:
    """The argument expression ``call`` passes for ``fn``'s ``parameter``, if visible.

    A ``self``/``cls`` first parameter is not passed explicitly when the
    receiver is bound: a call through an attribute (``self.m(x)``,
    ``obj.m(x)``), a constructor (``__init__``), or a module instance's
    ``forward`` called by name.  Unpacked ``*args``/``**kwargs`` arguments
    before the parameter give no answer.
    """
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == parameter:
            return arg.value
    names = [p.name.value for p in (*fn.params.posonly_params, *fn.params.params)]
    if names and names[0] in ("self", "cls"):
        bound_receiver = (
            type(call.func) is not cst.Name
            or fn.name.value == "__init__"
            or owner_class(context, fn) is not None
        )
        if bound_receiver:
            names = names[1:]
    if parameter not in names:
        return None
    index = names.index(parameter)
    positional = [arg for arg in call.args if arg.keyword is None]
    if any(arg.star for arg in positional[: index + 1]):
        return None
    if index < len(positional):
        return positional[index].value
    return None
