"""The ``torchlint`` command line.

Exit codes, as ruff's: 0 nothing found, 1 findings, 2 the run itself failed
(bad usage, bad configuration, a rule that crashed).  Imports are deferred
to the command that needs them, so ``torchlint check one_file.py`` in a
pre-commit hook starts fast.
"""

from __future__ import annotations

import sys

import click

from torchlint import __version__

OUTPUT_FORMATS = ("concise", "full", "json", "sarif", "github")
EXIT_OK, EXIT_FINDINGS, EXIT_FAILURE = 0, 1, 2


class UsageError(Exception):
    """A command line that cannot mean anything (exit 2)."""


def _split_codes(values: tuple[str, ...], option: str) -> list[str] | None:
    """``--select TL001,TL002 --select TL0`` -> ``["TL001", "TL002", "TL0"]``.

    An empty value (``--select ''``, ``--select TL001,``) is an error, as in
    ruff: checking nothing and passing is never what was meant.
    """
    if not values:
        return None
    codes = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                raise UsageError(
                    f"{option} {value!r}: an empty rule selector; give codes or prefixes "
                    "such as TL001 or TL"
                )
            codes.append(part.strip().upper())
    return codes


class _Group(click.Group):
    """Loads ``confirm`` (the torch-based runtime harness) only when asked for."""

    _lazy = {"confirm": ("torchlint.runtime.cli", "confirm")}

    def list_commands(self, ctx):
        return sorted([*super().list_commands(ctx), *self._lazy])

    def get_command(self, ctx, cmd_name):
        if cmd_name in self._lazy:
            import importlib

            module_name, attr = self._lazy[cmd_name]
            try:
                return getattr(importlib.import_module(module_name), attr)
            except ImportError as exc:
                return _unavailable(cmd_name, exc)
        return super().get_command(ctx, cmd_name)


def _unavailable(name: str, exc: ImportError) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args):
        click.echo(
            f"torchlint {name}: not available ({exc}); install it with "
            "pip install 'torchlint[runtime]'",
            err=True,
        )
        sys.exit(EXIT_FAILURE)

    command.help = "(not installed: pip install 'torchlint[runtime]')"
    return command


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="torchlint")
def main() -> None:
    """torchlint: find the PyTorch bugs that train without error and learn nothing."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, help="Rule codes or prefixes to check (replaces).")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to add.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to skip.")
@click.option(
    "--exclude",
    multiple=True,
    help="Glob patterns of files and folders to skip (replaces the configured list).",
)
@click.option(
    "--extend-exclude",
    multiple=True,
    help="Glob patterns of files and folders to skip, added to the configured ones.",
)
@click.option(
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    default="concise",
    show_default=True,
    help="How findings are printed.",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--fix", is_flag=True, help="Apply the safe fixes, then report what remains.")
@click.option(
    "--unsafe-fixes", is_flag=True, help="With --fix or --diff, apply the unsafe fixes too."
)
@click.option(
    "--diff",
    is_flag=True,
    help="Print the fixes as a diff instead of writing them (exit 1 when there is one).",
)
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes [default: cores].")
@click.option("--no-cache", is_flag=True, help="Neither read nor write .torchlint_cache/.")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="Use this config file."
)
@click.option(
    "--force-exclude",
    is_flag=True,
    default=None,
    help="Apply excludes also to files named explicitly (as pre-commit passes them).",
)
@click.option("--statistics", is_flag=True, help="Print the number of findings per code.")
@click.option(
    "--stdin-filename",
    help="Read the code from standard input and report it under this name.",
)
@click.option(
    "--no-prefilter",
    is_flag=True,
    hidden=True,
    help="Parse every file even when no rule can match its text (for testing).",
)
def check(**options) -> None:
    """Lint PATHS (files or folders; default '.', '-' for stdin)."""
    try:
        code = _check(**options)
    except UsageError as exc:
        click.echo(f"torchlint: error: {exc}", err=True)
        code = EXIT_FAILURE
    except KeyboardInterrupt:
        code = EXIT_FAILURE
    sys.exit(code)


def _check(
    *,
    paths,
    select,
    extend_select,
    ignore,
    exclude,
    extend_exclude,
    output_format,
    exit_zero,
    fix,
    unsafe_fixes,
    diff,
    jobs,
    no_cache,
    config_file,
    force_exclude,
    statistics,
    stdin_filename,
    no_prefilter,
) -> int:
    """Run ``torchlint check`` with the command line's options; returns the exit code."""
    select = _split_codes(select, "--select")
    extend_select = _split_codes(extend_select, "--extend-select")
    ignore = _split_codes(ignore, "--ignore")
    use_cache, use_prefilter = not no_cache, not no_prefilter
    from torchlint.config import ConfigError, load_settings

    # As in ruff, a file name for standard input means the code comes from
    # there, with or without `-`; other paths are then left alone.
    reads_stdin = list(paths) == ["-"] or stdin_filename is not None
    if stdin_filename is not None and any(path != "-" for path in paths):
        others = ", ".join(path for path in paths if path != "-")
        click.echo(
            f"torchlint: warning: reading standard input (--stdin-filename); ignoring {others}",
            err=True,
        )
    paths = list(paths) or ["."]
    config_anchor = [stdin_filename] if reads_stdin and stdin_filename else paths
    try:
        settings = load_settings(
            config_anchor,
            config_file,
            {
                "select": select,
                "extend_select": extend_select,
                "ignore": ignore,
                "exclude": list(exclude) or None,
                "extend_exclude": list(extend_exclude) or None,
                "force_exclude": force_exclude,
            },
        )
    except ConfigError as exc:
        click.echo(f"torchlint: error: {exc}", err=True)
        return EXIT_FAILURE

    from torchlint.discovery import discover, is_excluded, is_per_file_ignored
    from torchlint.registry import rule_index
    from torchlint.runner import CheckJob, check_files

    codes = settings.enabled_codes(rule_index())
    cache_dir = None
    if use_cache and not reads_stdin:
        cache_dir = str(settings.cache_dir or settings.root / ".torchlint_cache")
    job = CheckJob(
        codes=tuple(codes),
        options={code: settings.rule_options.get(code, {}) for code in codes},
        use_prefilter=use_prefilter,
        cache_dir=cache_dir,
        fingerprint=settings.fingerprint(codes),
    )

    def kept(d) -> bool:
        return d.is_internal_error or not is_per_file_ignored(d.path, d.code, settings)

    stdin_data = None
    if reads_stdin:
        display = stdin_filename or "-"
        if settings.force_exclude and stdin_filename and is_excluded(stdin_filename, settings):
            diagnostics = []
        else:
            from torchlint.engine import NotAnalysable, check_bytes, read_stream

            try:
                stdin_data = read_stream(sys.stdin.buffer)
            except NotAnalysable as exc:
                diagnostics = [exc.diagnostic(display)]
            else:
                diagnostics = check_bytes(stdin_data, display, job.selection())
        problems = []
        files = [(display, None)]
    else:
        found = discover(paths, settings)
        problems = found.problems
        files = found.files
        diagnostics = check_files(files, job, jobs)

    diagnostics = [*problems, *diagnostics]
    if settings.per_file_ignores:
        # Compiled once, and each file's answer computed once (not per finding).
        diagnostics = [d for d in diagnostics if kept(d)]
    if fix or diff:
        from torchlint.fix import apply_fixes

        outcome = apply_fixes(
            diagnostics,
            files,
            job.selection(),
            unsafe=unsafe_fixes,
            write=not diff,
            keep=kept,
            stdin_data=stdin_data,
        )
        if diff:
            return outcome.report_diff(click.get_text_stream("stdout"))
        diagnostics = outcome.remaining
        if outcome.fixed_stdin is not None:
            # Fixing stdin writes the fixed code to stdout, findings to stderr (as ruff).
            sys.stdout.buffer.write(outcome.fixed_stdin)
            sys.stdout.buffer.flush()
            output = click.get_text_stream("stderr")
        else:
            output = None
        fixed = outcome.fixed_count
    else:
        output = None
        fixed = None

    from torchlint.report import render_to_stream

    out = output or sys.stdout
    render_to_stream(
        diagnostics,
        "statistics" if statistics else output_format,
        out,
        fixed=fixed,
        unsafe_fixes=unsafe_fixes,
    )

    if any(d.is_internal_error for d in diagnostics):
        return EXIT_FAILURE
    if diagnostics and not exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


@main.command("server")
def server_command() -> None:
    """Run the language server for editors (LSP over stdio; needs torchlint[server])."""
    try:
        # pygls is imported here only: `torchlint check` never pays for it.
        from torchlint.server import serve
    except ImportError as exc:
        click.echo(
            f"torchlint server: not available ({exc}); install it with "
            "pip install 'torchlint[server]'",
            err=True,
        )
        sys.exit(EXIT_FAILURE)
    serve()


_FIX_WORDS = {
    "safe": "safe, applied by `--fix` (where the rule can rewrite the finding)",
    "unsafe": "unsafe, applied by `--fix --unsafe-fixes` (where the rule can rewrite the finding)",
}


@main.command("rule")
@click.argument("code")
def rule_command(code: str) -> None:
    """Print the documentation of rule CODE (e.g. TL001 or sigmoid-after-residual)."""
    from torchlint.registry import find_rule

    rule = find_rule(code)
    if rule is None:
        click.echo(f"torchlint: error: unknown rule {code!r}; see 'torchlint rules'", err=True)
        sys.exit(EXIT_FAILURE)
    click.echo(f"# {rule.name} ({rule.code})\n")
    click.echo(f"Default: {'on' if rule.default_enabled else 'off'}\n")
    if rule.fixable:
        click.echo(f"Fix: {_FIX_WORDS[rule.fixable]}\n")
    click.echo(rule.documentation())
    if rule.options:
        click.echo("\n## Options\n")
        for key, option in rule.options.items():
            click.echo(f"- `{key}` (default `{option.default!r}`): {option.description}")


@main.command("rules")
@click.option(
    "--output-format", type=click.Choice(("text", "json")), default="text", show_default=True
)
def rules_command(output_format: str) -> None:
    """List every rule: code, name, default on/off, summary, and [fix: safe] if it can fix."""
    from torchlint.registry import all_rules

    rules = all_rules()
    if output_format == "json":
        import json

        rows = [
            {
                "code": r.code,
                "name": r.name,
                "summary": r.summary,
                "default": r.default_enabled,
                "fix_hint": r.fix_hint,
                "fix": r.fixable,
            }
            for r in rules
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    width = max((len(r.name) for r in rules), default=4)
    for r in rules:
        state = "on " if r.default_enabled else "off"
        fixes = f" [fix: {r.fixable}]" if r.fixable else ""
        click.echo(f"{r.code}  {r.name:<{width}}  {state}  {r.summary}{fixes}")


def run() -> None:
    """Entry point that turns unexpected crashes into exit code 2."""
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # the run itself failed: never exit 1 for it
        click.echo(f"torchlint: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":
    run()
