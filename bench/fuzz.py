"""Check thousands of generated programs: no internal error, no valid file called invalid.

Programs come from hypothesmith, from Python's grammar (odd layouts: form
feeds, continuation lines, deep nesting) and from libcst's node types.  Every
rule runs on every program (pre-filters off).  A program that makes a rule
crash (TL999), makes the engine raise, or is valid Python reported as a
syntax error is printed and the script exits 1.

    python bench/fuzz.py               # 2,000 programs of each kind
    python bench/fuzz.py --examples 200 --kinds grammar
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
import warnings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="programs per kind")
    parser.add_argument(
        "--kinds", nargs="+", default=["grammar", "node"], choices=["grammar", "node"]
    )
    options = parser.parse_args()

    import hypothesmith
    from hypothesis import HealthCheck, given, settings

    from torchlint.engine import RuleSelection, check_source
    from torchlint.registry import all_rules

    selection = RuleSelection(tuple(all_rules()), {}, use_prefilter=False)
    selection.preload()
    # The engine raises the recursion limit on first use: do it before hypothesis runs.
    check_source("x = 1\n", "warm.py", selection)
    failures: list[tuple[str, str]] = []
    counts: dict[str, int] = {}

    def check(source: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ast.parse(source)
                valid = True
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                valid = False
        try:
            found = check_source(source, "generated.py", selection)
        except Exception as exc:  # the point of the script: report, go on
            failures.append((source, f"engine raised {type(exc).__name__}: {exc}"))
            return
        for diagnostic in found:
            counts[diagnostic.code] = counts.get(diagnostic.code, 0) + 1
            if diagnostic.code == "TL999":
                failures.append((source, diagnostic.message))
            elif valid and "syntax error" in diagnostic.message:
                failures.append((source, f"valid Python called {diagnostic.message!r}"))

    strategies = {"grammar": hypothesmith.from_grammar, "node": hypothesmith.from_node}
    for kind in options.kinds:
        start = time.perf_counter()
        run = settings(
            max_examples=options.examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )(given(strategies[kind]())(check))
        run()
        print(f"{kind}: {options.examples} programs in {time.perf_counter() - start:.1f} s")
    print("findings by code:", dict(sorted(counts.items())) or "none")
    for source, problem in failures[:20]:
        print(f"\n--- {problem}\n{source}")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
