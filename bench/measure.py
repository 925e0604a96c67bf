"""Run one command as a subprocess and measure wall time, CPU time and memory.

Three numbers per run, each chosen so that a process pool is counted fairly:

* **wall** -- ``time.perf_counter`` around start and reap of the process.
* **CPU** -- user + system seconds from ``os.wait4``: the kernel adds the
  time of every descendant the command waited for (pool workers included).
* **peak RSS** -- two views.  ``max_rss_mib`` is ``ru_maxrss`` from
  ``wait4``: the largest single process of the tree, exact, from the kernel.
  ``tree_rss_mib`` is the largest *sum* of the resident set sizes of the
  command and all its descendants, sampled from ``/proc`` every 200 ms; it
  counts pages shared between forked workers once per process, so it is an
  upper bound of what the tree really holds.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field

_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
# Scanning /proc costs a few ms; five times a second keeps that under 1% of a core.
_SAMPLE_INTERVAL_S = 0.2


@dataclass
class Measurement:
    """What one run of one command cost."""

    argv: list[str]
    returncode: int
    wall_s: float
    cpu_s: float
    max_rss_mib: float
    tree_rss_mib: float
    stdout_path: str | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """A JSON-ready copy."""
        return asdict(self)


def _process_table() -> dict[int, tuple[int, int]]:
    """``pid -> (parent pid, resident pages)`` for every process visible in /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # the process ended between listdir and open
        # The command name (field 2) may hold spaces and parentheses: split after it.
        fields = stat[stat.rindex(b")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), int(fields[21]))
    return table


def tree_rss_kib(root: int) -> int:
    """Sum of the resident set sizes of ``root`` and all its descendants, in KiB."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            total += table[pid][1] * _PAGE_KIB
        stack.extend(children.get(pid, ()))
    return total


class _TreeSampler(threading.Thread):
    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            # A racing /proc read is skipped; the next sample will do.
            with contextlib.suppress(OSError, ValueError, IndexError):
                self.peak_kib = max(self.peak_kib, tree_rss_kib(self.root))
            self.done.wait(_SAMPLE_INTERVAL_S)


def run_measured(
    argv: list[str],
    *,
    cwd: str | None = None,
    stdout_path: str | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float | None = None,
) -> Measurement:
    """Run ``argv`` to completion and return its cost; stdout goes to ``stdout_path``."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        start = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=cwd, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env
        )
        sampler = _TreeSampler(process.pid)
        sampler.start()
        # stderr is drained in a thread so a chatty tool cannot block on a full pipe.
        stderr_chunks: list[bytes] = []
        drain = threading.Thread(
            target=lambda: stderr_chunks.append(process.stderr.read()), daemon=True
        )
        drain.start()
        killer = None
        if timeout_s is not None:
            killer = threading.Timer(timeout_s, process.kill)
            killer.start()
        # A blocking wait4 releases the GIL and returns the tree's rusage with the exit.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if killer is not None:
            killer.cancel()
        sampler.done.set()
        sampler.join()
        drain.join()
        # wait4 reaped the child behind Popen's back: tell Popen so it does not wait again.
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout_path:
            out.close()
    measurement = Measurement(
        argv=list(argv),
        returncode=process.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mib=usage.ru_maxrss / 1024,
        tree_rss_mib=max(sampler.peak_kib, usage.ru_maxrss) / 1024,
        stdout_path=stdout_path,
    )
    measurement.extra["stderr_tail"] = b"".join(stderr_chunks)[-2000:].decode("utf-8", "replace")
    return measurement
