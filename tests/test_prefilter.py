"""The pre-filters (``Rule.prefilter``) are sound and do reject files.

Every fixture, every example, the runtime harness's reference models and
every rule's own ``valid``/``invalid`` snippet is checked with and without
the pre-filters; the findings must be identical.  The syntax stages are
also checked on look-alikes they must reject (otherwise they would cost an
``ast`` parse and save nothing) and on the shapes they must keep.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from torchlint.engine import RuleSelection, check_source
from torchlint.registry import all_rules, rules_by_code
from torchlint.syntax import SyntaxIndex

ROOT = Path(__file__).resolve().parent.parent
FILES = (
    sorted((ROOT / "tests" / "fixtures").glob("TL*/*.py"))
    + sorted((ROOT / "examples").glob("**/*.py"))
    + sorted((ROOT / "runtime").glob("reference_*.py"))
)
SNIPPETS = [
    (f"{rule.code}-{kind}-{index}", source)
    for rule in all_rules()
    for kind, sources in (("valid", rule.valid), ("invalid", [e.source for e in rule.invalid]))
    for index, source in enumerate(sources)
]


# Options change what some syntax stages look for.
OPTIONS = {
    "defaults": {},
    "guards": {"TL002": {"flag-guards": True}},
    "names": {"TL005": {"primary-loss-names": ["pixel", "recon"]}},
}


def _findings(source: str, path: str, use_prefilter: bool, options=None) -> list[tuple]:
    selection = RuleSelection(all_rules(), options or {}, use_prefilter=use_prefilter)
    return [
        (d.row, d.column, d.end_row, d.end_column, d.code, d.message)
        for d in check_source(source, path, selection)
    ]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_prefilter_keeps_findings_of_files(path: Path, options: str) -> None:
    source = path.read_text(encoding="utf-8")
    chosen = OPTIONS[options]
    assert _findings(source, str(path), True, chosen) == _findings(source, str(path), False, chosen)


@pytest.mark.parametrize(("name", "source"), SNIPPETS, ids=[name for name, _ in SNIPPETS])
def test_prefilter_keeps_findings_of_rule_examples(name: str, source: str) -> None:
    assert _findings(source, name, True) == _findings(source, name, False)


def _variants():
    """Every rule's examples and fixtures with each vocabulary word substituted in turn.

    A word added to a rule's vocabulary reaches these variants; if the cheap
    stage was not derived from the same list, the findings with and without
    it differ and the test below fails.
    """
    for rule in all_rules():
        sources = [("valid", s) for s in rule.valid]
        sources += [("invalid", e.source) for e in rule.invalid]
        sources += [
            (path.stem, path.read_text(encoding="utf-8"))
            for path in sorted((ROOT / "tests" / "fixtures" / rule.code).glob("*.py"))
        ]
        for word, replacements in rule.variants.items():
            for replacement in replacements:
                if replacement == word:
                    continue
                for index, (label, source) in enumerate(sources):
                    if word in source:
                        name = f"{rule.code}-{label}-{index}-{word}->{replacement}"
                        yield name, source.replace(word, replacement)


VARIANTS = list(_variants())


def test_every_rule_declares_variants() -> None:
    for rule in all_rules():
        assert rule.variants, f"{rule.code} declares no vocabulary variants"
        assert any(word in e.source for e in rule.invalid for word in rule.variants), rule.code


@pytest.mark.parametrize("options", OPTIONS)
def test_prefilter_keeps_findings_of_vocabulary_variants(options: str) -> None:
    chosen = OPTIONS[options]
    drifted = [
        name
        for name, source in VARIANTS
        if _findings(source, name, True, chosen) != _findings(source, name, False, chosen)
    ]
    assert not drifted, f"cheap stage rejects what the judgement flags: {drifted[:10]}"


def test_token_groups() -> None:
    for rule in all_rules():
        for group in rule.prefilter.token_groups():
            assert group and all(isinstance(token, str) and token for token in group)


def _keeps(code: str, source: str, settings: dict | None = None) -> bool:
    prefilter = rules_by_code()[code].prefilter
    assert prefilter.accepts_text(source), "the example must get past the text stage"
    return prefilter.accepts_syntax(SyntaxIndex.parse(source, "ex.py"), settings or {})


MODULE = """
import torch
import torch.nn as nn

class Head(nn.Module):
    def __init__(self, config, drop_rate=0.1):
        super().__init__()
        self.num_labels = config.num_labels
        self.drop_rate = drop_rate
        self.proj = nn.Linear(4, 4)
        if config.hidden_size > 512:
            self.proj = nn.Linear(8, 8)

    def forward(self, x, labels=None):
        h = torch.tanh(self.proj(x))
        if x.dim() == 4 and labels is not None:
            h = h.flatten(1)
        if self.num_labels > 1 and self.drop_rate > 0.0:
            h = h * 0.5
        for i in range(3):
            h = h if i < 2 else h * 2
        return h
"""


def test_syntax_stages_reject_a_clean_model() -> None:
    source = MODULE + "\n# loss, lr, warmup, scheduler.step(), StepLR\n"
    for code in ("TL001", "TL002", "TL003", "TL004", "TL005", "TL006"):
        assert not _keeps(code, source), code


@pytest.mark.parametrize(
    ("code", "source"),
    [
        ("TL001", "import torch\ndef f(a, b):\n    return torch.sigmoid(a + b)\n"),
        ("TL001", "def f(a, b):\n    s = a\n    s += b\n    return s.sigmoid()\n"),
        (
            "TL001",
            "import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n"
            "        self.act = nn.Sigmoid()\n    def forward(self, a, b):\n"
            "        return self.act(a + b)\n",
        ),
        (
            "TL002",
            "import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n"
            "        s = x.std()\n        if s < 0.1:\n            x = x * 2\n        return x\n",
        ),
        (
            "TL002",
            "def helper(x):\n    return 1 if x.mean() > 0.5 else 2\n"
            "class M:\n    def forward(self, x):\n        return helper(x)\n",
        ),
        ("TL003", "import torch\ndef my_loss(p):\n    return torch.tensor(0.0)\n"),
        ("TL004", "for x in loader:\n    for g in opt.param_groups:\n        g['lr'] *= 0.1\n"),
        ("TL005", "for epoch in range(9):\n    w = min(1.0, epoch / 10)\n    loss = w * recon\n"),
        (
            "TL006",
            "from torch.optim.lr_scheduler import StepLR\ns = StepLR(opt, 30)\n"
            "for x in loader:\n    s.step()\n",
        ),
    ],
)
def test_syntax_stages_keep_what_their_rule_starts_from(code: str, source: str) -> None:
    assert _keeps(code, source)


@pytest.mark.parametrize(
    ("code", "source"),
    [
        # A squash of something that is never a sum.
        ("TL001", "import torch\ndef f(x, w):\n    return torch.sigmoid(w(x))\n"),
        # `__init__` is a driver nothing calls; `self.p` holds a config value.
        (
            "TL002",
            "class M:\n    def __init__(self, c):\n        self.p = c.p\n"
            "        if c.size > 3:\n            pass\n"
            "    def forward(self, x):\n        if self.p > 0.5:\n            x = x + 1\n"
            "        return x\n",
        ),
        # No loss-named function or class, no backward.
        ("TL003", "import torch\ndef f(x):  # the loss\n    return torch.tensor(0.0)\n"),
        # A product that does not update a learning rate.
        ("TL004", "# the lr stays\nfor x in loader:\n    scale *= 0.9\n"),
        # A progress counter, but the primary-loss names are configured away.
        ("TL005", "for epoch in range(9):\n    loss = epoch / 10 * recon\n"),
        # The scheduler is only named in a string.
        ("TL006", "print('StepLR')\nfor x in loader:\n    opt.step()\n"),
    ],
)
def test_syntax_stages_reject_look_alikes(code: str, source: str) -> None:
    settings = {"primary-loss-names": ["pixel"]} if code == "TL005" else None
    assert not _keeps(code, source, settings)


LOOK_ALIKES = [
    # A module's `self.sigmoid(...)`, and a sum assigned to the name in another function.
    (
        "TL001",
        "import torch\nclass M:\n    def __init__(self):\n        self.y = self.a + self.b\n"
        "    def gate(self, h):\n        return self.sigmoid(self.conv(h))\n"
        "    def block(self, h, r):\n        h = r + h\n        return h\n"
        "    def head(self, h):\n        return torch.tanh(h)\n",
    ),
    # LayerDrop: a random draw decides, a raise-only guard, an imported non-tensor call.
    (
        "TL002",
        "import torch\nimport numpy as np\nclass M(torch.nn.Module):\n"
        "    def forward(self, x, labels):\n        p = torch.rand([])\n"
        "        if p < self.layerdrop:\n            return x\n"
        "        if labels.max() >= 10:\n            raise ValueError(labels)\n"
        "        if np.random.rand() > 0.5:\n            x = x + 1\n        return x\n",
    ),
    # A ramp-named value inside a function, and a weight-less `*=`.
    (
        "TL005",
        "def f(opt, epoch):\n    warmup_steps = 10\n    scale = 1.0\n"
        "    if epoch % 2 == 0:\n        scale *= 0.5\n    return warmup_steps * scale\n",
    ),
    # Attention softmax next to a cross-entropy head on logits.
    (
        "TL007",
        "import torch.nn as nn\nimport torch.nn.functional as F\nclass Attn(nn.Module):\n"
        "    def forward(self, q, k):\n        w = F.softmax(q @ k, dim=-1)\n        return w, q\n"
        "class Head(nn.Module):\n    def forward(self, h, labels):\n"
        "        logits = self.classifier(h)\n        loss_fct = nn.CrossEntropyLoss()\n"
        "        return loss_fct(logits.view(-1, 2), labels.view(-1))\n",
    ),
    # A registered dropout module called as `self.dropout(x)`.
    (
        "TL008",
        "import torch.nn as nn\nclass M(nn.Module):\n    def forward(self, x):\n"
        "        return self.dropout(x)\n",
    ),
]


@pytest.mark.parametrize(("code", "source"), LOOK_ALIKES)
def test_syntax_stages_follow_the_judgement(code: str, source: str) -> None:
    assert not _keeps(code, source)


@pytest.mark.parametrize(
    ("code", "source"),
    [
        # The same shapes, one step from a finding.
        ("TL001", "import torch\ndef head(h, r):\n    h = r + h\n    return torch.tanh(h)\n"),
        (
            "TL002",
            "import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n"
            "        p = torch.rand([]) + x.mean()\n        if p < 0.5:\n            x = x + 1\n"
            "        return x\n",
        ),
        ("TL005", "RAMP_KEYS = ['recon', 'kl']\n"),
        (
            "TL007",
            "import torch.nn as nn\nimport torch.nn.functional as F\nclass Head(nn.Module):\n"
            "    def forward(self, h):\n        return F.softmax(self.fc(h), dim=1)\n"
            "def train(model, x, y):\n    loss_fct = nn.CrossEntropyLoss()\n"
            "    return loss_fct(model(x), y)\n",
        ),
        (
            "TL008",
            "from torch.nn.functional import dropout as drop\nclass M:\n"
            "    def forward(self, x):\n        return drop(x, 0.5)\n",
        ),
    ],
)
def test_syntax_stages_keep_the_judgements_shapes(code: str, source: str) -> None:
    assert _keeps(code, source)


def test_flag_guards_makes_asserts_candidates() -> None:
    source = "class M:\n    def forward(self, x):\n        assert x.std() > 0.1\n        return x\n"
    assert not _keeps("TL002", source)
    assert _keeps("TL002", source, {"flag-guards": True})


def test_syntax_index_groups_every_node_but_operators() -> None:
    import ast

    source = (ROOT / "tests" / "fixtures" / "TL002").glob("*.py").__next__().read_text("utf-8")
    index = SyntaxIndex.parse(source, "f.py")
    expected: dict[type, int] = {}
    for node in ast.walk(index.tree):
        if not isinstance(
            node, (ast.operator, ast.cmpop, ast.boolop, ast.unaryop, ast.expr_context)
        ):
            expected[type(node)] = expected.get(type(node), 0) + 1
    assert {kind: len(index.nodes(kind)) for kind in expected} == expected
