"""How often each rule's pre-filter lets a file through, over a file list.

    python bench/prefilter_rate.py --files-from LIST

A rule's pre-filter has a text stage (substrings) and a syntax stage (the
CPython ``ast``); only files that some enabled rule's pre-filter lets
through both are parsed by libcst.  This prints one JSON object: per rule
code, the share of files (and of lines) each stage keeps, and the share
kept by at least one default-enabled rule (what libcst parses).  It reads
the rules from the installed torchlint.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from filelist import read_list


def main(argv: list[str] | None = None) -> int:
    """Print the pass rate of each rule's pre-filter."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files-from", required=True)
    args = parser.parse_args(argv)
    from torchlint.engine import decode_source
    from torchlint.registry import rule_index
    from torchlint.syntax import SyntaxIndex

    entries = [entry for entry in rule_index() if entry.default_enabled]
    files = read_list(args.files_from)
    counts = {entry.code: {"text": [0, 0], "syntax": [0, 0]} for entry in entries}
    parsed = [0, 0]
    total_lines = 0
    for path in files:
        with open(path, "rb") as handle:
            source, _ = decode_source(handle.read(), path)
        if source is None:
            continue
        lines = source.count("\n") + 1
        total_lines += lines
        texts = [entry for entry in entries if entry.prefilter.accepts_text(source)]
        if not texts:
            continue
        try:
            index = SyntaxIndex.parse(source, path)
        except (SyntaxError, ValueError, RecursionError):
            continue
        kept = False
        for entry in texts:
            counts[entry.code]["text"][0] += 1
            counts[entry.code]["text"][1] += lines
            if entry.prefilter.accepts_syntax(index, {}):
                counts[entry.code]["syntax"][0] += 1
                counts[entry.code]["syntax"][1] += lines
                kept = True
        if kept:
            parsed[0] += 1
            parsed[1] += lines
    n_files, n_lines = max(1, len(files)), max(1, total_lines)

    def shares(pair):
        return {"files": round(pair[0] / n_files, 4), "lines": round(pair[1] / n_lines, 4)}

    print(
        json.dumps(
            {
                "files": len(files),
                "lines": total_lines,
                "parsed_by_libcst": shares(parsed),
                "rules": {
                    code: {stage: shares(pair) for stage, pair in stages.items()}
                    for code, stages in counts.items()
                },
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
