"""Loading ``[tool.torchlint]`` into :class:`~torchlint.settings.Settings`.

Where the configuration comes from, in order:

1. ``--config FILE``: a ``pyproject.toml`` (its ``[tool.torchlint]`` table is
   read) or any other ``.toml`` file whose top level *is* the torchlint table
   (``torchlint.toml``, ``.torchlint.toml``, ``ci/lint.toml``...).
2. Otherwise the nearest configuration walking up from the first linted path
   (or the working directory): in each folder ``.torchlint.toml``, then
   ``torchlint.toml``, then a ``pyproject.toml`` that has a
   ``[tool.torchlint]`` table.  A ``pyproject.toml`` without one is skipped
   and the walk goes on, as ruff does.
3. Otherwise the defaults, rooted at the working directory.

Every mistake in the file stops the run with a :class:`ConfigError` that
names the file, the key and what was expected, with a suggestion when a
known key is close.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchlint.settings import DEFAULT_EXCLUDE, Settings

PYPROJECT = "pyproject.toml"
# In one folder the dedicated files win over pyproject.toml, like ruff's
# `.ruff.toml` > `ruff.toml` > `pyproject.toml`.
CONFIG_FILE_NAMES = (".torchlint.toml", "torchlint.toml", PYPROJECT)


@dataclass(frozen=True)
class Key:
    """One key of ``[tool.torchlint]``: the kind of value it takes and what it means.

    Kinds: ``selectors`` (a list of rule codes or prefixes), ``globs`` (a
    list of path patterns), ``bool``, ``path`` (a non-empty string),
    ``per-file-ignores`` (a table of glob = selectors) and ``rules`` (a table
    of rule code = table of that rule's options).
    """

    kind: str
    description: str


# The schema of the torchlint table.  Validation (`_apply_table`) and the JSON
# Schema for editors (`json_schema`) are both read from here.
SCHEMA: dict[str, Key] = {
    "select": Key("selectors", "Rule codes or prefixes to check (TL, TL0, TL001) or ALL."),
    "extend-select": Key("selectors", "Codes or prefixes added to select."),
    "ignore": Key("selectors", "Codes or prefixes not to check."),
    "exclude": Key("globs", "Files and folders never walked into (replaces the defaults)."),
    "extend-exclude": Key("globs", "Files and folders never walked into, added to exclude."),
    "per-file-ignores": Key("per-file-ignores", "Codes switched off in the files a glob matches."),
    "respect-gitignore": Key("bool", "Skip what .gitignore files ignore, inside git repositories."),
    "force-exclude": Key("bool", "Apply the excludes to paths named on the command line too."),
    "cache-dir": Key("path", "Where results are cached; relative to the configuration's folder."),
    "rules": Key("rules", "Options of single rules: [rules.TL00N] tables."),
}
_KNOWN_KEYS = tuple(SCHEMA)

# Command-line overrides that load_settings understands; None means "not given".
OVERRIDE_KEYS = (
    "select",
    "extend_select",
    "ignore",
    "exclude",
    "extend_exclude",
    "force_exclude",
    "respect_gitignore",
    "cache_dir",
)


class ConfigError(Exception):
    """The configuration is wrong; the message says where and how to fix it."""


def load_settings(
    paths: list[str], config_file: str | None, overrides: dict[str, Any] | None
) -> Settings:
    """The settings of a run: defaults < config file < command-line overrides.

    ``paths`` are the paths to lint (the first one starts the search for a
    config file; the working directory when empty).  ``config_file`` is
    ``--config``, which skips the search.  ``overrides`` holds command-line
    values by :data:`OVERRIDE_KEYS`; a value of ``None`` means "not given".
    ``--select`` replaces the file's ``select``, ``extend-select`` and
    ``ignore`` (a later layer wins, as in ruff); ``--extend-select``,
    ``--ignore`` and ``--extend-exclude`` add to the file's lists.

    Raises :class:`ConfigError` for a missing or malformed file, an unknown
    key, a value of the wrong type, an unknown rule code or rule option.
    """
    if config_file is not None:
        config_path = Path(config_file).absolute()
        if not config_path.is_file():
            raise ConfigError(f"{_display(config_path)}: config file not found")
        table = _read_table(config_path)
    else:
        start = Path(paths[0]) if paths else Path.cwd()
        found = find_config(start)
        config_path, table = found if found else (None, None)

    settings = Settings()
    if config_path is not None:
        settings.root = config_path.parent
        settings.config_path = config_path
        _apply_table(settings, table or {}, config_path)
    _apply_overrides(settings, overrides or {})
    return settings


def find_config(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest config file at or above ``start`` and its torchlint table."""
    folder = start.absolute()
    if not folder.is_dir():
        folder = folder.parent
    for candidate_folder in (folder, *folder.parents):
        for name in CONFIG_FILE_NAMES:
            candidate = candidate_folder / name
            if not candidate.is_file():
                continue
            table = _read_table(candidate)
            if table is not None:
                return candidate, table
    return None


def _read_table(path: Path) -> dict[str, Any] | None:
    """The torchlint table of ``path``; ``None`` for a pyproject.toml without one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{_display(path)}: cannot read config file: {exc}") from None
    is_pyproject = path.name == PYPROJECT
    if is_pyproject and "torchlint" not in text:
        # Most projects have a pyproject.toml without our table: no need to
        # parse it (or to fail on its unrelated syntax errors).
        return None
    data = _parse_toml(text, path)
    if not is_pyproject:
        return data
    tool = data.get("tool", {})
    table = tool.get("torchlint") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{_display(path)}: 'tool.torchlint' must be a table")
    return table


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message already ends in "(at line L, column C)".
        raise ConfigError(f"{_display(path)}: invalid TOML: {exc}") from None
    except RecursionError:
        # The decoder recurses once per level of nested arrays or tables.
        raise ConfigError(
            f"{_display(path)}: invalid TOML: arrays or tables nested too deeply to read"
        ) from None


def _apply_table(settings: Settings, table: dict[str, Any], path: Path) -> None:
    where = _Where(path)
    for key in table:
        if key not in SCHEMA:
            raise ConfigError(
                f"{where.section()} unknown key {key!r}{_suggestion(key, _KNOWN_KEYS)}"
            )
    codes = _known_codes()
    for key, spec in SCHEMA.items():
        if key not in table:
            continue
        value = table[key]
        attribute = key.replace("-", "_")
        if spec.kind == "selectors":
            values = _string_list(value, where, key)
            for selector in values:
                _check_selector(selector, codes, where.section(), key)
            setattr(settings, attribute, values)
        elif spec.kind == "globs":
            setattr(settings, attribute, _glob_list(value, where, key))
        elif spec.kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(
                    f"{where.section()} {key!r} must be true or false, not {_shown(value)}"
                )
            setattr(settings, attribute, value)
        elif spec.kind == "path":
            if not isinstance(value, str) or not value:
                raise ConfigError(
                    f"{where.section()} {key!r} must be a path (a string), not {_shown(value)}"
                )
            settings.cache_dir = settings.root / os.path.expanduser(value)
        elif spec.kind == "per-file-ignores":
            settings.per_file_ignores = _per_file_ignores(value, where, codes)
        elif spec.kind == "rules":
            settings.rule_options = _rule_options(value, where)


class _Where:
    """How error messages name a place in the config file."""

    def __init__(self, path: Path) -> None:
        self.file = _display(path)
        self.prefix = "tool.torchlint" if path.name == PYPROJECT else ""

    def section(self, *parts: str) -> str:
        dotted = ".".join(p for p in (self.prefix, *parts) if p)
        return f"{self.file}: [{dotted}]" if dotted else f"{self.file}:"


def _string_list(value: Any, where: _Where, key: str, *section: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"{where.section(*section)} {key!r} must be a list of strings, not {_shown(value)}"
        )
    return list(value)


def _glob_list(value: Any, where: _Where, key: str, *section: str) -> list[str]:
    from torchlint.discovery import GlobError, check_glob

    patterns = _string_list(value, where, key, *section)
    for pattern in patterns:
        try:
            check_glob(pattern)
        except GlobError as exc:
            raise ConfigError(f"{where.section(*section)} {key!r}: {pattern!r}: {exc}") from None
    return patterns


def _per_file_ignores(value: Any, where: _Where, codes: list[str]) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where.section()} 'per-file-ignores' must be a table of glob = [codes], "
            f"not {_shown(value)}"
        )
    # Engine codes (TL000, TL0001...) may be switched off for generated files.
    from torchlint.diagnostics import ENGINE_CODE_NAMES

    selectable = [*codes, *ENGINE_CODE_NAMES]
    result = {}
    for pattern, selectors in value.items():
        _glob_list([pattern], where, "per-file-ignores")
        selectors = _string_list(selectors, where, pattern, "per-file-ignores")
        for selector in selectors:
            _check_selector(selector, selectable, where.section("per-file-ignores"), pattern)
        result[pattern] = selectors
    return result


def _rule_options(value: Any, where: _Where) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where.section()} 'rules' must be a table of [rules.TLNNN] tables, "
            f"not {_shown(value)}"
        )
    from torchlint.registry import all_rules

    rules = {rule.code: rule for rule in all_rules()}
    result: dict[str, dict[str, Any]] = {}
    for code, options in value.items():
        rule = rules.get(code)
        if rule is None:
            raise ConfigError(
                f"{where.section('rules')} unknown rule code {code!r}"
                f"{_suggestion(code, list(rules) + [r.name for r in rules.values()], rules)}"
            )
        if not isinstance(options, dict):
            raise ConfigError(
                f"{where.section('rules')} {code!r} must be a table of options, "
                f"not {_shown(options)}"
            )
        result[code] = _rule_option_values(rule, options, where.section("rules", code))
    return result


def _rule_option_values(rule, options: dict[str, Any], section: str) -> dict[str, Any]:
    """Validate one rule's options; keys are stored under the rule's own names."""
    # Rule authors name options in Python (snake_case); the file uses kebab-case.
    by_file_key = {name.replace("_", "-"): name for name in rule.options}
    values = {}
    for key, value in options.items():
        name = by_file_key.get(key.replace("_", "-"))
        if name is None:
            if not rule.options:
                raise ConfigError(f"{section} {rule.code} has no options; remove {key!r}")
            raise ConfigError(
                f"{section} unknown option {key!r} of {rule.code}"
                f"{_suggestion(key, list(by_file_key))}; "
                f"its options are {', '.join(sorted(by_file_key))}"
            )
        option = rule.options[name]
        place = f"{section} {key!r}"
        values[name] = _coerce_option(value, option.type, place, option_item_type(option))
    return values


def option_item_type(option) -> type | None:
    """The type of each item of a list option: that of the items of its default.

    ``RuleOption(list, ["recon", "rec"], ...)`` takes a list of strings; a
    list option whose default is empty or mixed takes items of any type.
    """
    types = option.type if isinstance(option.type, tuple) else (option.type,)
    default = option.default
    if list not in types or not isinstance(default, (list, tuple)) or not default:
        return None
    kinds = {type(item) for item in default}
    return kinds.pop() if len(kinds) == 1 else None


def _coerce_option(
    value: Any, expected: type | tuple[type, ...], place: str, item_type: type | None = None
) -> Any:
    types = expected if isinstance(expected, tuple) else (expected,)
    # bool is an int in Python, but `true` is no answer to "how many steps".
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{place} must be {_type_names(types)}, not {_shown(value)}")
    if isinstance(value, list) and list in types and item_type is not None:
        for number, item in enumerate(value, start=1):
            try:
                _coerce_option(item, item_type, place)
            except ConfigError:
                raise ConfigError(
                    f"{place} must be a list of {_plural_names(item_type)}, "
                    f"but item {number} is {_shown(item)}"
                ) from None
        return [float(item) if item_type is float else item for item in value]
    if isinstance(value, types):
        return value
    if float in types and isinstance(value, int):
        return float(value)
    raise ConfigError(f"{place} must be {_type_names(types)}, not {_shown(value)}")


def _plural_names(kind: type) -> str:
    return {
        bool: "true or false values",
        int: "integers",
        float: "numbers",
        str: "strings",
        list: "lists",
        dict: "tables",
    }.get(kind, f"{kind.__name__} values")


def _type_names(types: tuple[type, ...]) -> str:
    words = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    return " or ".join(words.get(t, t.__name__) for t in types)


_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}


def json_schema() -> dict[str, Any]:
    """The torchlint table as a JSON Schema (draft 2020-12), built from :data:`SCHEMA`.

    For editors (a ``pyproject.toml`` language server) and for the tests,
    which check that it accepts exactly what :func:`load_settings` accepts.
    Selectors are checked here by form only; the loader also requires each
    one to match a registered rule.
    """
    from torchlint.registry import all_rules

    selectors = {
        "type": "array",
        "items": {"type": "string", "pattern": "^(ALL|TL[0-9]*)$"},
    }
    globs = {"type": "array", "items": {"type": "string", "pattern": "[^/]"}}
    rules: dict[str, Any] = {}
    for rule in all_rules():
        options: dict[str, Any] = {}
        for name, option in rule.options.items():
            types = option.type if isinstance(option.type, tuple) else (option.type,)
            schema: dict[str, Any] = {
                "type": [_JSON_TYPES[t] for t in types if t in _JSON_TYPES],
                "description": option.description,
            }
            item_type = option_item_type(option)
            if item_type in _JSON_TYPES:
                schema["items"] = {"type": _JSON_TYPES[item_type]}
                if item_type is int:
                    schema["items"]["not"] = {"type": "boolean"}
            if bool not in types and {"integer", "number"} & set(schema["type"]):
                schema["not"] = {"type": "boolean"}
            options[name.replace("_", "-")] = schema
        rules[rule.code] = {"type": "object", "properties": options, "additionalProperties": False}
    kinds = {
        "selectors": selectors,
        "globs": globs,
        "bool": {"type": "boolean"},
        "path": {"type": "string", "minLength": 1},
        "per-file-ignores": {"type": "object", "additionalProperties": selectors},
        "rules": {"type": "object", "properties": rules, "additionalProperties": False},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "[tool.torchlint]",
        "type": "object",
        "properties": {
            key: {**kinds[spec.kind], "description": spec.description}
            for key, spec in SCHEMA.items()
        },
        "additionalProperties": False,
    }


def _known_codes() -> list[str]:
    from torchlint.registry import rule_index

    return [rule.code for rule in rule_index()]


def _check_selector(selector: str, codes: list[str], section: str, key: str) -> None:
    """A selector must be ``ALL``, ``TL`` or a prefix of a registered rule code."""
    if selector in ("ALL", "TL") or any(code.startswith(selector) for code in codes):
        return
    from torchlint.registry import rule_index

    names = {rule.name: rule.code for rule in rule_index()}
    if selector in names:
        raise ConfigError(
            f"{section} {key!r}: {selector!r} is a rule name; use its code {names[selector]!r}"
        )
    candidates = ["ALL", "TL", *codes]
    hint = _suggestion(selector.upper(), candidates) if selector != selector.upper() else ""
    hint = hint or _suggestion(selector, candidates)
    raise ConfigError(
        f"{section} {key!r}: {selector!r} matches no rule code or prefix "
        f"(expected ALL, TL, or a prefix of {', '.join(codes) or 'a rule code'}){hint}"
    )


def _apply_overrides(settings: Settings, overrides: dict[str, Any]) -> None:
    unknown = [key for key in overrides if key not in OVERRIDE_KEYS]
    if unknown:
        raise ConfigError(f"unknown command-line setting {unknown[0]!r}")
    given = {key: value for key, value in overrides.items() if value is not None}
    if not given:
        return
    codes = _known_codes()
    for key in ("select", "extend_select", "ignore"):
        for selector in given.get(key, ()):
            _check_selector(selector, codes, "command line:", "--" + key.replace("_", "-"))
    if "select" in given:
        # A later layer's select starts over, so the file's picks and
        # exclusions do not leak into an explicit `--select`.
        settings.select = list(given["select"])
        settings.extend_select = []
        settings.ignore = []
    settings.extend_select = settings.extend_select + list(given.get("extend_select", ()))
    settings.ignore = settings.ignore + list(given.get("ignore", ()))
    from torchlint.discovery import GlobError, check_glob

    for key in ("exclude", "extend_exclude"):
        for pattern in given.get(key, ()):
            try:
                check_glob(pattern)
            except GlobError as exc:
                option = "--" + key.replace("_", "-")
                raise ConfigError(f"command line: {option} {pattern!r}: {exc}") from None
    if "exclude" in given:
        settings.exclude = list(given["exclude"])
    settings.extend_exclude = settings.extend_exclude + list(given.get("extend_exclude", ()))
    if "force_exclude" in given:
        settings.force_exclude = bool(given["force_exclude"])
    if "respect_gitignore" in given:
        settings.respect_gitignore = bool(given["respect_gitignore"])
    if "cache_dir" in given:
        settings.cache_dir = Path(given["cache_dir"]).absolute()


def _suggestion(wrong: str, candidates, aliases: dict | None = None) -> str:
    import difflib  # only needed on the way to an error

    close = difflib.get_close_matches(wrong, list(candidates), n=1, cutoff=0.6)
    if not close:
        return ""
    meant = close[0]
    if aliases is not None and meant not in aliases:
        # A rule name matched: suggest the code that the table needs.
        for code, rule in aliases.items():
            if rule.name == meant:
                meant = code
    return f"; did you mean {meant!r}?"


def _shown(value: Any) -> str:
    kind = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
    try:
        text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    except RecursionError:
        text = "nested too deeply to show"
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} ({text})"


def _display(path: Path) -> str:
    """The path as the user would write it: relative to the working directory if under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


__all__ = [
    "DEFAULT_EXCLUDE",
    "SCHEMA",
    "ConfigError",
    "find_config",
    "json_schema",
    "load_settings",
]
