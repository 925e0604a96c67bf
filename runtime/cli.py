"""``torchlint confirm``: run each rule's reference pair and print verdicts with numbers.

Importing this module must stay cheap and must work without torch: the main
CLI imports it to list its commands. torch is imported only once the command runs.
"""

from __future__ import annotations

import importlib.util
import sys

import click

EXIT_OK = 0
EXIT_FAILURE = 2
RUNTIME_HINT = "pip install 'torchlint[runtime]'"
PLOTS_HINT = "pip install 'torchlint[plots]'"


class _Progress:
    """One ``click.progressbar`` per rule on a terminal (stderr); silent otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.current: str | None = None
        self._bar = None
        self._shown = 0

    def __call__(self, code: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if code != self.current:
            self.close()
            self.current = code
            self._bar = click.progressbar(
                length=max(total, 1), label=code, file=sys.stderr, show_pos=True, width=30
            )
            self._shown = 0
        step = min(done, total) - self._shown
        if step > 0:
            self._bar.update(step)
            self._shown += step

    def close(self) -> None:
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None


def _fail(message: str) -> None:
    click.echo(f"torchlint confirm: {message}", err=True)
    sys.exit(EXIT_FAILURE)


@click.command("confirm", short_help="Measure whether each rule's harm is real.")
@click.argument("codes", nargs=-1)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to train: auto picks CUDA when torch sees a GPU.",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=None,
    help="Seeds per arm (default 5; 3 with --quick).",
)
@click.option("--quick", is_flag=True, help="Fewer steps and seeds (for CI; under a minute).")
@click.option(
    "--output-format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--plots",
    type=click.Path(file_okay=False, writable=True),
    default=None,
    help="Write one PNG per rule (buggy vs fixed curves) into this directory; needs matplotlib.",
)
def confirm(codes, device, seeds, quick, output_format, plots):
    """Measure whether each rule's harm is real (trains buggy vs fixed references).

    Trains each rule's buggy and fixed reference side by side on the same seeds and
    reports, per claimed symptom, the measured numbers and a verdict: confirmed, not
    reproduced or inconclusive.

    CODES picks rules (e.g. TL001 TL004); all rules when omitted. Exit status 0 when the
    run completed (whatever the verdicts), 2 when the run itself failed.
    """
    if importlib.util.find_spec("torch") is None:
        _fail(f"torch is not installed: {RUNTIME_HINT}")
    from torchlint.runtime import report

    if plots and not report.plots_available():
        _fail(f"--plots needs matplotlib: {PLOTS_HINT}")
    from torchlint.runtime.harness import HarnessError, confirm_rules, run_metadata

    progress = _Progress(sys.stderr.isatty())
    try:
        results = confirm_rules(codes, device=device, seeds=seeds, quick=quick, progress=progress)
    except HarnessError as exc:
        progress.close()
        _fail(str(exc))
    progress.close()
    click.echo(report.render(results, run_metadata(results), output_format), nl=False)
    if plots:
        for path in report.write_plots(results, plots):
            click.echo(f"wrote {path}", err=True)
    failed = [r.code for r in results if r.error]
    if failed:
        _fail(f"the reference run failed for {', '.join(failed)}")
    sys.exit(EXIT_OK)
