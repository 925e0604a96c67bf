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
from pathlib import Path
from typing import Any

from torchlint.settings import DEFAULT_EXCLUDE, Settings

PYPROJECT = "pyproject.toml"
# In one folder the dedicated files win over pyproject.toml, like ruff's
# `.ruff.toml` > `ruff.toml` > `pyproject.toml`.
CONFIG_FILE_NAMES = (".torchlint.toml", "torchlint.toml", PYPROJECT)

# kebab-case key in the file -> expected type, in words for error messages.
_LIST_KEYS = ("select", "extend-select", "ignore", "exclude", "extend-exclude")
_KNOWN_KEYS = (
    *_LIST_KEYS,
    "per-file-ignores",
    "respect-gitignore",
    "force-exclude",
    "rules",
    "cache-dir",
)
_SELECTOR_KEYS = ("select", "extend-select", "ignore")

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


def _apply_table(settings: Settings, table: dict[str, Any], path: Path) -> None:
    where = _Where(path)
    for key in table:
        if key not in _KNOWN_KEYS:
            raise ConfigError(
                f"{where.section()} unknown key {key!r}{_suggestion(key, _KNOWN_KEYS)}"
            )
    codes = _known_codes()
    for key in _LIST_KEYS:
        if key in table:
            values = _string_list(table[key], where, key)
            if key in _SELECTOR_KEYS:
                for value in values:
                    _check_selector(value, codes, where.section(), key)
            setattr(settings, key.replace("-", "_"), values)
    if "per-file-ignores" in table:
        settings.per_file_ignores = _per_file_ignores(table["per-file-ignores"], where, codes)
    for key in ("respect-gitignore", "force-exclude"):
        if key in table:
            value = table[key]
            if not isinstance(value, bool):
                raise ConfigError(
                    f"{where.section()} {key!r} must be true or false, not {_shown(value)}"
                )
            setattr(settings, key.replace("-", "_"), value)
    if "cache-dir" in table:
        value = table["cache-dir"]
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"{where.section()} 'cache-dir' must be a path (a string), not {_shown(value)}"
            )
        settings.cache_dir = settings.root / os.path.expanduser(value)
    if "rules" in table:
        settings.rule_options = _rule_options(table["rules"], where)


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


def _per_file_ignores(value: Any, where: _Where, codes: list[str]) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where.section()} 'per-file-ignores' must be a table of glob = [codes], "
            f"not {_shown(value)}"
        )
    result = {}
    for pattern, selectors in value.items():
        selectors = _string_list(selectors, where, pattern, "per-file-ignores")
        for selector in selectors:
            _check_selector(selector, codes, where.section("per-file-ignores"), pattern)
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
        values[name] = _coerce_option(value, option.type, f"{section} {key!r}")
    return values


def _coerce_option(value: Any, expected: type | tuple[type, ...], place: str) -> Any:
    types = expected if isinstance(expected, tuple) else (expected,)
    # bool is an int in Python, but `true` is no answer to "how many steps".
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{place} must be {_type_names(types)}, not {_shown(value)}")
    if isinstance(value, types):
        return value
    if float in types and isinstance(value, int):
        return float(value)
    raise ConfigError(f"{place} must be {_type_names(types)}, not {_shown(value)}")


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
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} ({text})"


def _display(path: Path) -> str:
    """The path as the user would write it: relative to the working directory if under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


__all__ = ["DEFAULT_EXCLUDE", "ConfigError", "find_config", "load_settings"]
