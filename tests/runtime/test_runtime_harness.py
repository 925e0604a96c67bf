"""The reference pairs, run in --quick mode: the probes that must separate do, a
harmless "bug" is not reproduced, and the JSON output keeps its schema."""

from __future__ import annotations

import json
import types

import pytest

pytest.importorskip("torch")

from torchlint.runtime import report
from torchlint.runtime.harness import (
    RULE_CODES,
    HarnessError,
    confirm_rules,
    run_metadata,
    run_reference,
)
from torchlint.runtime.stats import (
    CONFIRMED,
    HIGHER_IS_WORSE,
    NOT_REPRODUCED,
    RATIO,
    Claim,
)


@pytest.fixture(scope="module")
def quick_results():
    # Two seeds keep the suite fast; the verdict rules are the same as with five.
    return {r.code: r for r in confirm_rules(None, device="cpu", seeds=3, quick=True)}


def claim_of(result, claim_id):
    return next(c for c in result.claims if c.claim.id == claim_id)


def test_every_rule_runs_without_error(quick_results):
    assert list(quick_results) == list(RULE_CODES)
    for r in quick_results.values():
        assert r.error is None, r.error
        assert r.claims and r.seeds == [0, 1, 2] and r.quick


def test_tl001_double_squash_separates_from_the_collapse_claims(quick_results):
    r = quick_results["TL001"]
    squash = claim_of(r, "double-squash")
    assert squash.verdict == CONFIRMED
    assert squash.buggy[0] == pytest.approx(0.5, abs=1e-3)
    assert squash.fixed == [0.0]
    low, high = squash.details["output_range_at_zero_delta"]["buggy"]
    assert low == pytest.approx(0.5) and high == pytest.approx(0.7311, abs=1e-4)
    for seed_claim in ("collapse", "saturation", "vanishing-gradient"):
        c = claim_of(r, seed_claim)
        assert c.claim.source == "post-mortem"
        assert c.verdict != CONFIRMED, (seed_claim, c.reason)


def test_tl002_probes(quick_results):
    r = quick_results["TL002"]
    assert claim_of(r, "fullgraph-compile").verdict == CONFIRMED
    syncs = claim_of(r, "host-syncs")
    assert (syncs.buggy, syncs.fixed) == ([1.0], [0.0])
    assert syncs.details["where_variant_syncs"] == 0
    jump = claim_of(r, "loss-jump")
    assert jump.verdict == CONFIRMED
    # torch.where keeps the jump that only a smooth rewrite removes.
    assert jump.details["where_variant"] == pytest.approx(jump.buggy[0])


def test_tl003_constant_term_is_a_silent_no_op(quick_results):
    r = quick_results["TL003"]
    assert claim_of(r, "no-gradient").verdict == CONFIRMED
    noop = claim_of(r, "silent-no-op")
    assert noop.buggy == [0.0, 0.0, 0.0]  # bit-identical to training without the term
    assert min(noop.fixed) > 0
    assert noop.details["buggy_term_mean_added_to_logged_loss"][0] > 0


def test_tl004_lr_reaches_exactly_zero(quick_results):
    c = claim_of(quick_results["TL004"], "lr-collapse")
    assert c.buggy == [0.0] and c.fixed == [2e-5]
    assert c.details["buggy_lr_exactly_zero_from_batch"] is not None
    assert claim_of(quick_results["TL004"], "parameters-frozen").verdict == CONFIRMED


def test_tl005_first_epoch_has_no_gradient(quick_results):
    c = claim_of(quick_results["TL005"], "no-gradient-first-epoch")
    assert c.buggy == [0.0, 0.0, 0.0]
    assert min(c.fixed) > 0
    assert c.verdict == CONFIRMED


def test_tl006_lr_collapse(quick_results):
    c = claim_of(quick_results["TL006"], "lr-collapse")
    assert c.verdict == CONFIRMED
    assert c.buggy[0] < 1e-12 * c.fixed[0]


def test_json_schema_is_stable(quick_results):
    results = list(quick_results.values())
    text = report.render_json(results, run_metadata(results))

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    payload = json.loads(text, parse_constant=no_constants)
    assert set(payload) == {
        "schema_version",
        "torchlint",
        "torch",
        "python",
        "device",
        "seeds",
        "quick",
        "wall_time_s",
        "verdicts",
        "rules",
    }
    assert payload["schema_version"] == 1
    rule_keys = {
        "code",
        "name",
        "task",
        "buggy_code",
        "fixed_code",
        "device",
        "seeds",
        "quick",
        "wall_time_s",
        "claims",
        "notes",
        "error",
    }
    claim_keys = {
        "id",
        "claim",
        "source",
        "kind",
        "metric",
        "direction",
        "compare",
        "threshold",
        "buggy",
        "fixed",
        "per_seed_effect",
        "separated",
        "p_separation",
        "verdict",
        "reason",
        "details",
    }
    for rule in payload["rules"]:
        assert set(rule) == rule_keys
        for c in rule["claims"]:
            assert set(c) == claim_keys
            assert set(c["buggy"]) == {"values", "mean", "std", "min", "max"}
            assert c["verdict"] in ("confirmed", "not reproduced", "inconclusive")
    # Rendering twice gives the same text (no timestamps, stable key order).
    assert report.render_json(results, run_metadata(results)) == text


def test_text_and_markdown_name_every_claim(quick_results):
    results = list(quick_results.values())
    meta = run_metadata(results)
    text = report.render_text(results, meta)
    markdown = report.render_markdown(results, meta)
    for r in results:
        for c in r.claims:
            assert c.claim.id in text and c.claim.id in markdown
    assert markdown.count("**Evidence.**") == len(results)


def _harmless_reference():
    """A "bug" that cannot matter: the loss is summed and divided by n instead of
    averaged. Numerics differ in the last bits; training quality must not."""

    def run(ctx):
        torch = ctx.torch
        ctx.plan(2 * len(ctx.seeds))
        finals = {"buggy": [], "fixed": []}
        for seed in ctx.seeds:
            g = torch.Generator().manual_seed(seed)
            x = torch.randn(256, 4, generator=g)
            y = x @ torch.randn(4, 1, generator=g)
            torch.manual_seed(seed)
            init = torch.nn.Linear(4, 1)
            for arm in ("buggy", "fixed"):
                model = torch.nn.Linear(4, 1)
                model.load_state_dict(init.state_dict())
                opt = torch.optim.SGD(model.parameters(), lr=0.05)
                for _ in range(30):
                    out = model(x)
                    if arm == "buggy":
                        loss = torch.nn.functional.mse_loss(out, y, reduction="sum") / y.numel()
                    else:
                        loss = torch.nn.functional.mse_loss(out, y)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                with torch.no_grad():
                    finals[arm].append(float(torch.nn.functional.mse_loss(model(x), y)))
                ctx.tick()
        ctx.record("worse", finals["buggy"], finals["fixed"])

    return types.SimpleNamespace(
        CODE="TL900",
        NAME="harmless",
        TASK="linear regression",
        BUGGY_CODE="mse_loss(out, y, reduction='sum') / n",
        FIXED_CODE="mse_loss(out, y)",
        CLAIMS=(
            Claim("worse", "ends worse", "final MSE", HIGHER_IS_WORSE, 1.1, "training", RATIO),
        ),
        run=run,
    )


def test_harmless_bug_is_not_reproduced():
    import torch

    result = run_reference(_harmless_reference(), torch, torch.device("cpu"), range(3), True)
    assert result.error is None
    (c,) = result.claims
    assert c.verdict == NOT_REPRODUCED
    assert all(abs(e - 1.0) < 1e-3 for e in c.effects)


def test_reference_that_raises_is_reported_not_raised():
    import torch

    ref = _harmless_reference()

    def broken(ctx):
        raise RuntimeError("boom")

    ref.run = broken
    result = run_reference(ref, torch, torch.device("cpu"), range(2), True)
    assert result.error == "RuntimeError: boom"
    assert result.claims == []


def test_unknown_code_and_device():
    with pytest.raises(HarnessError):
        confirm_rules(["TL999"], device="cpu", quick=True)
    with pytest.raises(HarnessError):
        confirm_rules(["TL004"], device="tpu", quick=True)


def test_plots_are_written_per_rule(quick_results, tmp_path):
    pytest.importorskip("matplotlib")
    results = [quick_results["TL004"], quick_results["TL006"]]
    paths = report.write_plots(results, str(tmp_path))
    assert [p.rsplit("/", 1)[-1] for p in paths] == [
        "tl004-lr-decay-per-batch.png",
        "tl006-epoch-scheduler-per-batch.png",
    ]
    for p in paths:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
