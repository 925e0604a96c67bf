"""Time and memory of `torchlint check` on one large, torch-heavy file.

The file repeats the rule fixtures (every line is training code that the
rules look at) up to the size asked for.  Each size runs in a fresh process;
the script prints wall and CPU seconds, lines per CPU second and the peak
memory of that process.

    python bench/large_file.py 1 5 50     # sizes in MB
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_file(path: Path, megabytes: float) -> int:
    """Write about ``megabytes`` MB of fixture code to ``path``; return its line count."""
    parts = [p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("tests/fixtures/*/*.py"))]
    blob = "\n".join(parts)
    copies = max(1, round(megabytes * 1e6 / len(blob)))
    text = "\n".join([blob] * copies)
    path.write_text(text, encoding="utf-8")
    return text.count("\n") + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="+", type=float, help="file sizes in MB")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for size in options.sizes:
            path = Path(folder) / f"large_{size:g}mb.py"
            lines = make_file(path, size)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            command = ["check", "--no-cache", "--statistics", str(path)]
            result = subprocess.run(
                [sys.executable, "-m", "torchlint", *command],
                capture_output=True,
                text=True,
                check=False,
            )
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            peak_mib = after.ru_maxrss / 1024
            findings = result.stdout.strip().replace("\n", "; ")
            print(
                f"{size:g} MB ({path.stat().st_size:,} bytes, {lines:,} lines): exit "
                f"{result.returncode}, {wall:.1f} s wall, {cpu:.1f} s CPU, "
                f"{lines / max(cpu, 1e-9):,.0f} lines per CPU second, peak {peak_mib:,.0f} MiB"
                f" (largest so far); {findings[:160]}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
