"""Overhead of the training probes (torchlint.runtime.watch) on a plain training loop.

Run: ``python bench/probe_overhead.py [--steps 1000] [--repeats 5] [--device cpu]``

Times the same loop (forward, two-term loss, backward, Adam step) without probes
and with ``watch`` in three configurations, and prints a Markdown table of the
median time per step and the overhead relative to the plain loop. The timed
steps follow 20 warm-up steps of the same watched run, so they include the early
check steps (25, 50) and every 100th step: the average over a real run's first
thousand steps, not a best case. A benchmark, not a test: numbers depend on the
machine and its load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from torchlint.runtime.probes import watch

MODELS = {
    "small MLP 32-64-32 (6.3k params), batch 64": ([32, 64, 32], 64),
    "MLP 64-256-256-64 (99k params), batch 64": ([64, 256, 256, 64], 64),
}


def build(sizes, device):
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(device)


def run_loop(sizes, batch, steps, device, mode):
    model = build(sizes, device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, sizes[0], device=device)
    y = torch.randn(batch, sizes[-1], device=device)
    w = watch(model, opt, on_finding=None) if mode != "plain" else None

    def step():
        out = model(x)
        rec = torch.nn.functional.mse_loss(out, y)
        reg = 1e-3 * out.pow(2).mean()
        opt.zero_grad()
        if w is None:
            (rec + reg).backward()
        elif mode == "watch: backward":
            w.backward(rec + reg)
        else:
            w.backward(rec + reg, terms={"rec": rec, "reg": reg})
            if mode == "watch: backward + terms + observe":
                w.observe(out, y)
        opt.step()

    for _ in range(20):  # warm-up
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    # On the CPU, process time: other jobs on a shared machine stretch wall time
    # but not the CPU time this loop itself uses.
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    start = clock()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = clock() - start
    if w is not None:
        w.close()
    return elapsed / steps


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    clock_name = "wall time" if device.type == "cuda" else "CPU time (process)"
    modes = (
        "plain",
        "watch: backward",
        "watch: backward + terms",
        "watch: backward + terms + observe",
    )
    print(
        f"device {args.device}, {args.threads} thread(s), torch {torch.__version__},"
        f" {args.steps} steps x {args.repeats} repeats, median {clock_name} per step;"
        " default thresholds (checks at steps 0, 10, 25, 50, then every 100)\n"
    )
    print("| model | configuration | ms / step | overhead (median of paired repeats) |")
    print("|---|---|---|---|")
    for label, (sizes, batch) in MODELS.items():
        # Interleave configurations and compare each with the plain loop of the same
        # repeat, so that load changes on a shared machine hit both sides of a ratio.
        times = {m: [] for m in modes}
        for r in range(args.repeats):
            # Rotate the order too, so that no configuration always runs first.
            for m in modes[r % len(modes) :] + modes[: r % len(modes)]:
                times[m].append(run_loop(sizes, batch, args.steps, device, m))
        for m in modes:
            t = statistics.median(times[m])
            if m == "plain":
                overhead = "-"
            else:
                ratios = [a / b for a, b in zip(times[m], times["plain"])]
                overhead = f"{(statistics.median(ratios) - 1) * 100:+.1f}%"
            print(f"| {label} | {m} | {t * 1e3:.3f} | {overhead} |")


if __name__ == "__main__":
    main()
