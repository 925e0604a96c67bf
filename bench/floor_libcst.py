"""The libcst floor: what parsing every file with libcst costs, and nothing more.

    python bench/floor_libcst.py [--jobs N] [--metadata] [--files-from LIST] [PATH ...]

Each file is read, decoded as UTF-8 (as the corpus is) and given to
``libcst.parse_module``.  With ``--metadata`` each module is also wrapped in
a ``MetadataWrapper`` and the scope, qualified-name, parent and position
providers are resolved -- what a Fixit- or TorchFix-style linter pays before
its first rule runs.  A process pool of ``--jobs`` workers shares the files
the same way a linter's pool would.  Prints one JSON line: files, lines,
parse failures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from multiprocessing import Pool

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from filelist import count_lines, expand, read_list

# Deeply nested generated expressions recurse deeply in libcst's tree builder.
_RECURSION_LIMIT = 20_000
_WITH_METADATA = False


def _init(with_metadata: bool) -> None:
    global _WITH_METADATA
    _WITH_METADATA = with_metadata
    sys.setrecursionlimit(_RECURSION_LIMIT)


def _parse(path: str) -> tuple[int, int]:
    """Parse one file; ``(lines, 1 if it failed else 0)``."""
    import libcst as cst

    with open(path, "rb") as handle:
        data = handle.read()
    lines = count_lines(data)
    try:
        module = cst.parse_module(data.decode("utf-8"))
        if _WITH_METADATA:
            from libcst.metadata import (
                MetadataWrapper,
                ParentNodeProvider,
                PositionProvider,
                QualifiedNameProvider,
                ScopeProvider,
            )

            wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
            wrapper.resolve_many(
                [ScopeProvider, QualifiedNameProvider, ParentNodeProvider, PositionProvider]
            )
    except Exception:
        return lines, 1
    return lines, 0


def main(argv: list[str] | None = None) -> int:
    """Parse the given files and print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--files-from", help="a file with one path per line")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--metadata", action="store_true")
    args = parser.parse_args(argv)
    files = expand(args.paths) + (read_list(args.files_from) if args.files_from else [])
    if args.jobs <= 1:
        _init(args.metadata)
        results = [_parse(path) for path in files]
    else:
        with Pool(args.jobs, initializer=_init, initargs=(args.metadata,)) as pool:
            # Small chunks: file sizes vary by 1000x, big chunks would idle a worker at the end.
            results = list(pool.imap_unordered(_parse, files, chunksize=4))
    print(
        json.dumps(
            {
                "files": len(files),
                "lines": sum(lines for lines, _ in results),
                "failures": sum(failed for _, failed in results),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
