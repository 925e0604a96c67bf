"""How often each rule's pre-filter lets a file through, over a file list.

    python bench/prefilter_rate.py --files-from LIST

A rule's ``tokens`` are plain substrings: a file that contains none of any
enabled rule's tokens is never parsed by libcst.  This prints one JSON object:
per rule code, the share of files whose text holds one of its tokens, and
the share of files that at least one default-enabled rule keeps (those that
are parsed).  It reads the rules from the installed torchlint.
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
    from torchlint.registry import all_rules

    rules = [rule for rule in all_rules() if getattr(rule, "default_enabled", True)]
    files = read_list(args.files_from)
    passed = dict.fromkeys((rule.code for rule in rules), 0)
    parsed = 0
    for path in files:
        with open(path, "rb") as handle:
            source, _ = decode_source(handle.read(), path)
        if source is None:
            continue
        kept = False
        for rule in rules:
            if rule.accepts(source):
                passed[rule.code] += 1
                kept = True
        parsed += kept
    total = max(1, len(files))
    print(
        json.dumps(
            {
                "files": len(files),
                "parsed_share": parsed / total,
                "rules": {
                    rule.code: {
                        "tokens": list(rule.tokens or ()),
                        "share": passed[rule.code] / total,
                    }
                    for rule in rules
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
