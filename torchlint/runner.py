"""Running a check over many files: cache first, then a process pool.

Files are independent, so the unit of parallel work is a file.  The parent
process answers what it can from the cache's stat index; the rest goes to a
pool of workers (``--jobs``), each of which builds its rule selection once,
reads, hashes, checks and stores the content entry of each file it gets.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchlint.diagnostics import INTERNAL_ERROR_CODE, Diagnostic
from torchlint.engine import RuleSelection, check_bytes, file_error

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


def _init_worker(job: CheckJob) -> None:
    _worker_state["selection"] = job.selection()
    _worker_state["cache"] = _open_entries(job)


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
        with open(real, "rb") as handle:
            stat = os.fstat(handle.fileno())
            data = handle.read()
    except OSError as exc:
        error = file_error(display, 1, 1, f"cannot read file: {exc.strerror or exc}")
        return display, real, None, None, None, [error]
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


def _check_chunk(chunk: list[tuple[str, str]]) -> list[tuple]:
    selection = _worker_state["selection"]
    cache = _worker_state["cache"]
    return [_check_one(display, real, selection, cache) for display, real in chunk]


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
    from concurrent.futures import ProcessPoolExecutor

    # Largest files first, in small chunks, so no worker is left with the
    # one huge modeling file at the end.
    def size(item: tuple[str, str]) -> int:
        try:
            return os.path.getsize(item[1])
        except OSError:
            return 0

    ordered = sorted(pending, key=size, reverse=True)
    chunk_size = max(1, min(16, len(ordered) // (jobs * 8) or 1))
    chunks = [ordered[i : i + chunk_size] for i in range(0, len(ordered), chunk_size)]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    outcomes: list[tuple] = []
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_init_worker, initargs=(job,)
    ) as pool:
        for chunk_result in pool.map(_check_chunk, chunks):
            outcomes.extend(chunk_result)
    return outcomes
