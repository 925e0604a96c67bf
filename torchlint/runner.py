"""Running a check over many files: cache first, then a process pool.

Files are independent, so the unit of parallel work is a file.  The parent
process answers what it can from the cache's stat index; the rest goes to a
pool of workers (``--jobs``), each of which builds its rule selection once,
reads, hashes, checks and stores the content entry of each file it gets.

A worker that dies (a parser that overflows its stack kills the process, it
raises nothing) costs one file, not the run: each worker notes in shared
memory which file it is checking, so when the pool breaks the files that
were in progress are checked again one by one in a process of their own, the
one that kills its process again is reported as a ``TL999`` naming the
signal, and the files not yet checked go to a new pool.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchlint.diagnostics import INTERNAL_ERROR_CODE, Diagnostic
from torchlint.engine import (
    NotAnalysable,
    RuleSelection,
    check_bytes,
    engine_diagnostic,
    read_source_file,
    unreadable,
)

# Below this many files a pool costs more to start than it saves (pre-commit
# usually passes a handful).
_MIN_FILES_FOR_POOL = 8


@dataclass(frozen=True)
class CheckJob:
    """What a worker needs to rebuild the run's rule selection."""

    codes: tuple[str, ...]
    options: dict[str, dict[str, Any]]
    use_prefilter: bool
    cache_dir: str | None
    fingerprint: str

    def selection(self) -> RuleSelection:
        """The rules by their index entries: a rule module is imported when a file needs it."""
        from torchlint.registry import rule_entries

        return RuleSelection(rule_entries(self.codes), self.options, self.use_prefilter)


def default_jobs() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


_worker_state: dict[str, Any] = {}


def _init_worker(job: CheckJob, in_progress=None, next_slot=None) -> None:
    _worker_state["selection"] = job.selection()
    _worker_state["cache"] = _open_entries(job)
    _worker_state["in_progress"] = in_progress
    if in_progress is not None and next_slot is not None:
        with next_slot.get_lock():
            _worker_state["slot"] = next_slot.value
            next_slot.value += 1


def _open_entries(job: CheckJob):
    if job.cache_dir is None:
        return None
    from torchlint.cache import Cache

    # Workers only use content entries; the parent owns the stat index.
    return Cache(Path(job.cache_dir), job.fingerprint, load_index=False)


def _check_one(display: str, real: str, selection: RuleSelection, cache) -> tuple:
    """Check one file: (display, real, stat_key, digest, rows-or-None, diagnostics)."""
    from torchlint.cache import content_hash, strip_path, with_path

    try:
        data, stat = read_source_file(real)
    except NotAnalysable as exc:
        return display, real, None, None, None, [exc.diagnostic(display)]
    except OSError as exc:
        return display, real, None, None, None, [unreadable(display, exc)]
    stat_key = (stat.st_mtime_ns, stat.st_size)
    digest = None
    if cache is not None:
        digest = content_hash(data, display)
        rows = cache.load_entry(digest)
        if rows is not None:
            return display, real, stat_key, digest, rows, with_path(rows, display)
    diagnostics = check_bytes(data, display, selection)
    rows = None
    if cache is not None and not any(d.code == INTERNAL_ERROR_CODE for d in diagnostics):
        rows = strip_path(diagnostics)
        cache.store_entry(digest, rows)
    return display, real, stat_key, digest, rows, diagnostics


def _check_chunk(chunk: list[tuple[int, str, str]]) -> list[tuple]:
    selection = _worker_state["selection"]
    cache = _worker_state["cache"]
    in_progress = _worker_state.get("in_progress")
    slot = _worker_state.get("slot", -1)
    watched = in_progress is not None and 0 <= slot < len(in_progress)
    outcomes = []
    for number, display, real in chunk:
        if watched:
            in_progress[slot] = number
        outcomes.append(_check_one(display, real, selection, cache))
    if watched:
        in_progress[slot] = -1
    return outcomes


def check_files(
    files: Sequence[tuple[str, str]],
    job: CheckJob,
    jobs: int | None = None,
) -> list[Diagnostic]:
    """Check ``(display_path, real_path)`` pairs; diagnostics in file order."""
    cache = None
    if job.cache_dir is not None:
        from torchlint.cache import Cache

        cache = Cache(Path(job.cache_dir), job.fingerprint)

    results: dict[str, list[Diagnostic]] = {}
    pending: list[tuple[str, str]] = []
    for display, real in files:
        cached = cache.lookup_stat(real, display) if cache is not None else None
        if cached is not None:
            results[display] = cached
        else:
            pending.append((display, real))

    jobs = jobs or default_jobs()
    outcomes: list[tuple] = []
    if jobs > 1 and len(pending) >= _MIN_FILES_FOR_POOL:
        # Import libcst and the rules once, here: forked workers inherit them
        # instead of each paying the import (about half a second of CPU).
        job.selection().preload()
        outcomes = _run_pool(pending, job, jobs)
    elif pending:
        selection = job.selection()
        entries = _open_entries(job) if cache is not None else None
        outcomes = [_check_one(display, real, selection, entries) for display, real in pending]

    for display, real, stat_key, digest, rows, diagnostics in outcomes:
        results[display] = diagnostics
        if cache is not None and rows is not None:
            cache.remember(real, stat_key, digest, rows)
    if cache is not None:
        cache.save()

    ordered: list[Diagnostic] = []
    for display, _ in files:
        ordered.extend(results.get(display, ()))
    return ordered


def _run_pool(pending: list[tuple[str, str]], job: CheckJob, jobs: int) -> list[tuple]:
    import multiprocessing

    # Largest files first, in small chunks, so no worker is left with the
    # one huge modeling file at the end.
    def size(item: tuple[str, str]) -> int:
        try:
            return os.path.getsize(item[1])
        except OSError:
            return 0

    ordered = sorted(pending, key=size, reverse=True)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    outcomes: list[tuple] = []
    while ordered:
        done, suspects, left = _pool_round(ordered, job, jobs, context)
        outcomes.extend(done)
        if not suspects and left:
            # The pool broke before any worker started a file (it could not
            # start at all): check here, where an error at least is visible.
            selection, entries = job.selection(), _open_entries(job)
            outcomes.extend(_check_one(display, real, selection, entries) for display, real in left)
            break
        outcomes.extend(_check_isolated(display, real, job, context) for display, real in suspects)
        ordered = left
    return outcomes


def _pool_round(
    ordered: list[tuple[str, str]], job: CheckJob, jobs: int, context
) -> tuple[list[tuple], list[tuple[str, str]], list[tuple[str, str]]]:
    """One pool over ``ordered``: (outcomes, files in progress when it broke, files not done)."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    numbered = [(number, display, real) for number, (display, real) in enumerate(ordered)]
    chunk_size = max(1, min(16, len(numbered) // (jobs * 8) or 1))
    chunks = [numbered[i : i + chunk_size] for i in range(0, len(numbered), chunk_size)]
    in_progress = context.Array("q", [-1] * jobs)
    next_slot = context.Value("i", 0)
    outcomes: list[tuple] = []
    unfinished: list[tuple[int, str, str]] = []
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_init_worker,
        initargs=(job, in_progress, next_slot),
    ) as pool:
        futures = [(pool.submit(_check_chunk, chunk), chunk) for chunk in chunks]
        for future, chunk in futures:
            try:
                outcomes.extend(future.result())
            except BrokenProcessPool:
                unfinished.extend(chunk)
    if not unfinished:
        return outcomes, [], []
    suspect_numbers = {number for number in in_progress[:] if number >= 0}
    suspects = [ordered[number] for number in sorted(suspect_numbers)]
    left = [(display, real) for n, display, real in unfinished if n not in suspect_numbers]
    return outcomes, suspects, left


def _check_isolated(display: str, real: str, job: CheckJob, context) -> tuple:
    """Check one file in a process of its own; a TL999 naming the signal if it dies."""
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_isolated_check, args=(sending, job, display, real))
    process.start()
    sending.close()
    try:
        outcome = receiving.recv()
    except (EOFError, OSError):
        outcome = None
    finally:
        receiving.close()
    process.join()
    if outcome is not None:
        return outcome
    crash = engine_diagnostic(
        INTERNAL_ERROR_CODE,
        display,
        1,
        1,
        f"checking this file killed its worker process ({_exit_reason(process.exitcode)}); "
        "the other files were checked; please report this",
    )
    return display, real, None, None, None, [crash]


def _isolated_check(sending, job: CheckJob, display: str, real: str) -> None:
    outcome = _check_one(display, real, job.selection(), _open_entries(job))
    sending.send(outcome)
    sending.close()


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        import signal

        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit status {exitcode}"
