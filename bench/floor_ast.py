"""The CPython floor: ``ast.parse`` of every file, in one process.

    python bench/floor_ast.py [--files-from LIST] [PATH ...]

The fastest any Python-hosted linter could read the corpus; the gap between
this and the libcst floor is the price of a concrete syntax tree.  Prints
one JSON line: files, lines, parse failures.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from filelist import count_lines, expand, read_list


def main(argv: list[str] | None = None) -> int:
    """Parse the given files and print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--files-from", help="a file with one path per line")
    args = parser.parse_args(argv)
    files = expand(args.paths) + (read_list(args.files_from) if args.files_from else [])
    # Invalid escape sequences in old code warn on every parse; the warnings are not the cost.
    warnings.simplefilter("ignore")
    lines = failures = 0
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        lines += count_lines(data)
        try:
            ast.parse(data, filename=path)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            failures += 1
    print(json.dumps({"files": len(files), "lines": lines, "failures": failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
