"""Resolving names through imports, without libcst's slow scope metadata.

``import torch.nn.functional as F`` makes ``F.sigmoid`` resolve to
``torch.nn.functional.sigmoid``; ``from torch import sigmoid as sg`` makes
``sg`` resolve to ``torch.sigmoid``.  Imports anywhere in the file count
(function-level imports are common in training scripts); a later import of
the same alias wins, which is what runs in almost all real code.

``from utils import *`` from a module of the project hands on whatever that
module imported; when ``torch``, ``nn`` or ``F`` is used but never imported
by name, it is taken to be torch's own, reached through the star import.
"""

from __future__ import annotations

from torchlint.lazy import lazy_module

cst = lazy_module("libcst", globals(), "cst")


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def place_of(expr: cst.BaseExpression):
    """What an assignment target denotes, ignoring quotes and spacing, or None.

    ``g['lr']`` and ``g["lr"]`` are the same place (``("g", "lr")``);
    ``optimizer.param_groups[0]["lr"]`` is ``(("optimizer.param_groups", 0), "lr")``;
    a name or attribute chain is its dotted name.
    """
    if isinstance(expr, cst.Subscript) and len(expr.slice) == 1:
        index = expr.slice[0].slice
        if isinstance(index, cst.Index):
            inner = place_of(expr.value)
            key = _string_key(index.value)
            if key is None and isinstance(index.value, cst.Integer):
                text = index.value.value
                key = int(text, 0) if text.isdigit() else text
            if inner is not None and key is not None:
                return (inner, key)
        return None
    return dotted_name(expr)


def _string_key(node: cst.BaseExpression):
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except Exception:  # malformed escapes in odd files
            return None
        return value if isinstance(value, str) else None
    return None


def _module_name(node: cst.BaseExpression | None, relative_dots: int) -> str:
    base = dotted_name(node) if node is not None else ""
    return "." * relative_dots + (base or "")


# `torch`, `nn` and `F` imported by name from a module of the project (`from utils
# import nn, torch`) are torch's own: projects re-export them to shorten imports.
TORCH_REEXPORTS = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional"}


def _is_torch_module(module: str) -> bool:
    return module == "torch" or module.startswith("torch.")


class ImportTable:
    """Local alias -> fully qualified name, from every import in a module."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        # Modules of the project imported with `from module import *`.
        self.star_modules: list[str] = []

    def add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.aliases[alias.asname.name.value] = full
            else:
                # `import torch.nn` binds `torch`.
                head = full.split(".", 1)[0]
                self.aliases[head] = head

    def add_import_from(self, node: cst.ImportFrom) -> None:
        module = _module_name(node.module, len(node.relative))
        if isinstance(node.names, cst.ImportStar):
            if not _is_torch_module(module):
                self.star_modules.append(module)
            return
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            if name in TORCH_REEXPORTS and not _is_torch_module(module):
                # `from utils import nn, torch`: a project module handing torch on.
                self.aliases[local] = TORCH_REEXPORTS[name]
                continue
            self.aliases[local] = f"{module}.{name}" if module else name

    def resolve(self, node: cst.BaseExpression) -> str | None:
        """The qualified name of a Name/Attribute chain, if its head is imported."""
        dotted = dotted_name(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        target = self.aliases.get(head)
        if target is None:
            target = self.through_star_import(head)
        if target is None:
            return None
        return f"{target}.{rest}" if rest else target

    def through_star_import(self, name: str) -> str | None:
        """``torch.nn`` for ``nn`` when no import binds it but ``from utils import *`` may.

        A project module star-imported into this one hands on its own imports;
        ``torch``, ``nn`` and ``F`` are used that way in real code (``from
        model.utils import *`` where ``utils`` does ``import torch``).
        """
        if name in self.aliases or not self.star_modules:
            return None
        return TORCH_REEXPORTS.get(name)


def collect_imports(module: cst.Module) -> ImportTable:
    """Build the import table of ``module`` by scanning its statements.

    Only statement lists are scanned (module, class and function bodies,
    ``if``/``try`` blocks); expressions are never entered, so this costs a
    small fraction of a full walk.
    """
    table = ImportTable()
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                if isinstance(small, cst.Import):
                    table.add_import(small)
                elif isinstance(small, cst.ImportFrom):
                    table.add_import_from(small)
            continue
        for body in _bodies(node):
            stack.extend(reversed(body))
    return table


def _bodies(node: cst.CSTNode):
    """Statement sequences directly inside ``node`` (module, blocks, branches)."""
    if isinstance(node, cst.Module):
        yield node.body
        return
    body = getattr(node, "body", None)
    if isinstance(body, cst.IndentedBlock):
        yield body.body
    for attr in ("orelse", "finalbody"):
        branch = getattr(node, attr, None)
        if branch is not None:
            yield (branch,)
    handlers = getattr(node, "handlers", None)
    if handlers:
        yield handlers


# -- the same resolution on CPython's `ast` (for cheap stages) ----------------


def syntax_import_aliases(index) -> tuple[dict[str, set[str]], bool]:
    """Every qualified name each local name may be imported as, and whether a
    project module is star-imported: :class:`ImportTable` over a
    :class:`~torchlint.syntax.SyntaxIndex`.

    Every import of a local name is kept (not only the last one), so that a
    cheap stage built on :func:`syntax_qualified_names` lets through whatever
    :meth:`ImportTable.resolve` may answer.
    """
    return index.memo("import_aliases", _syntax_import_aliases)


def _syntax_import_aliases(index) -> tuple[dict[str, set[str]], bool]:
    import ast

    aliases: dict[str, set[str]] = {}
    star = False
    for node in index.nodes(ast.Import):
        for alias in node.names:
            if alias.asname is not None:
                aliases.setdefault(alias.asname, set()).add(alias.name)
            else:
                head = alias.name.split(".", 1)[0]
                aliases.setdefault(head, set()).add(head)
    for node in index.nodes(ast.ImportFrom):
        module = "." * (node.level or 0) + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                star = star or not _is_torch_module(module)
                continue
            local = alias.asname or alias.name
            if alias.name in TORCH_REEXPORTS and not _is_torch_module(module):
                aliases.setdefault(local, set()).add(TORCH_REEXPORTS[alias.name])
                continue
            aliases.setdefault(local, set()).add(f"{module}.{alias.name}" if module else alias.name)
    return aliases, star


def syntax_qualified_names(index, expr) -> set[str]:
    """What :meth:`ImportTable.resolve` may answer for this ``ast`` expression (empty: None)."""
    import ast

    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return set()
    aliases, star = syntax_import_aliases(index)
    targets = aliases.get(expr.id)
    if targets is None:
        reexport = TORCH_REEXPORTS.get(expr.id) if star else None
        if reexport is None:
            return set()
        targets = {reexport}
    rest = ".".join(reversed(parts))
    return {f"{target}.{rest}" if rest else target for target in targets}
