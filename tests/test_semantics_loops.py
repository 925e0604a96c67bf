"""runs_per_batch: batch loops, epoch loops, guards, hooks and call paths."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from torchlint.context import FileContext
from torchlint.semantics.loops import (
    NEVER_RUNS,
    classify_loop,
    mutually_exclusive,
    never_runs,
    runs_per_batch,
)
from torchlint.walk import Walker

MARK = "# <-"


def _context(source: str) -> FileContext:
    source = textwrap.dedent(source)
    module = cst.parse_module(source)
    context = FileContext("example.py", source, module)
    Walker({}, {}, context.parents, lambda *args: None).walk(module)
    return context


def _marked(context: FileContext) -> cst.CSTNode:
    """The statement on the line that ends with the ``# <-`` marker."""
    for node in context.parents:
        if isinstance(node, cst.SimpleStatementLine):
            comment = node.trailing_whitespace.comment
            if comment is not None and comment.value.startswith(MARK):
                return node.body[0]
    raise AssertionError("no marked statement")


def answer(source: str):
    context = _context(source)
    return runs_per_batch(context, _marked(context))


PER_BATCH = {
    "loader": """
        def train(model, train_loader):
            for x, y in train_loader:
                loss = model(x, y)  # <-
    """,
    "enumerate_tqdm": """
        from tqdm import tqdm
        def train(model, dataloader, epochs):
            for epoch in range(epochs):
                for i, (x, y) in enumerate(tqdm(dataloader)):
                    loss = model(x, y)  # <-
    """,
    "range_of_steps": """
        def train(model, data_iter, num_steps):
            for step in range(num_steps):
                batch = next(data_iter)  # <-
    """,
    "while_step": """
        def train(model, data_iter, max_steps):
            step = 0
            while step < max_steps:
                step += 1  # <-
    """,
    "range_of_iterations_per_epoch": """
        def train_epoch(model, data_iter, iters_per_epoch):
            for i in range(iters_per_epoch):
                batch = next(data_iter)  # <-
    """,
    "while_true_next": """
        def train(model, it):
            while True:
                batch = next(it)
                model(batch).backward()  # <-
    """,
    "progress_bar_variable": """
        from tqdm import tqdm
        def train(model, dataset_loader):
            pbar = tqdm(dataset_loader)
            for batch in pbar:
                model(batch)  # <-
    """,
    "epoch_equality_is_not_a_once_guard": """
        def train(model, optimizer, loader, epochs):
            for epoch in range(epochs):
                for x, y in loader:
                    if epoch == 30:
                        optimizer.zero_grad()  # <-
    """,
    "epoch_modulo_is_not_an_every_n_gate": """
        def train(model, optimizer, train_loader, epoch):
            for batch_idx, (data, target) in enumerate(train_loader):
                if epoch % 10 == 0:
                    optimizer.zero_grad()  # <-
    """,
    "accumulation_gate_is_per_optimizer_step": """
        def train(model, optimizer, loader, accum_steps):
            for i, batch in enumerate(loader):
                if (i + 1) % accum_steps == 0:
                    optimizer.step()  # <-
    """,
    "method_called_from_loop": """
        class Trainer:
            def get_loss(self, x, y):
                return self.model(x, y)  # <-

            def train_epoch(self):
                for x, y in self.train_loader:
                    loss = self.get_loss(x, y)
    """,
    "two_calls_deep": """
        def inner(opt):
            opt.zero_grad()  # <-

        def outer(opt):
            inner(opt)

        def train(opt, loader):
            for batch in loader:
                outer(opt)
    """,
    "lightning_training_step": """
        import lightning.pytorch as pl
        class Model(pl.LightningModule):
            def training_step(self, batch, batch_idx):
                loss = self.net(batch)  # <-
                return loss
    """,
    "hf_trainer_compute_loss": """
        from transformers import Trainer
        class MyTrainer(Trainer):
            def compute_loss(self, model, inputs, return_outputs=False):
                outputs = model(**inputs)  # <-
                return outputs.loss
    """,
    "module_level_progress_bar_alias": """
        from tqdm import tqdm
        for epoch in range(epochs):
            progress_bar = tqdm(enumerate(dataloader), total=len(dataloader))
            for i, (lr_img, hr_img) in progress_bar:
                model(lr_img)  # <-
    """,
    "gate_on_a_counter_that_moves_only_sometimes": """
        def train(model, sources, max_batches, every):
            itr = 0
            while itr < max_batches:
                if itr > 0 and itr % every == 0:
                    model.decay()  # <-
                for source in sources:
                    if source.ready():
                        model.fit(source.batch())
                        itr = itr + 1
    """,
    "gate_on_an_outer_counter": """
        def train(model, loader, rounds):
            iteration = 0
            for _ in range(rounds):
                iteration += 1
                for x, y in loader:
                    if iteration % 10 == 0:
                        model.decay()  # <-
    """,
    "gate_after_an_accumulation_branch": """
        def train(model, optimizer, loader, accum):
            step = 0
            for i, batch in enumerate(loader):
                if (i + 1) % accum == 0:
                    optimizer.step()
                    step += 1
                if step % 1000 == 0:
                    model.decay()  # <-
    """,
}

NOT_PER_BATCH = {
    "epoch_loop_after_batch_loop": """
        def train(model, scheduler, loader, epochs):
            for epoch in range(epochs):
                for x, y in loader:
                    model(x, y)
                scheduler.step()  # <-
    """,
    "module_level": """
        total = 0  # <-
    """,
    "every_n_steps": """
        def train(model, optimizer, loader):
            for step, batch in enumerate(loader):
                if step % 1000 == 0:
                    optimizer.zero_grad()  # <-
    """,
    "not_modulo": """
        def train(model, optimizer, loader):
            for step, batch in enumerate(loader):
                if not step % 500:
                    optimizer.zero_grad()  # <-
    """,
    "once_by_step": """
        def train(model, optimizer, loader, warmup_steps):
            global_step = 0
            for batch in loader:
                global_step += 1
                if global_step == warmup_steps:
                    optimizer.zero_grad()  # <-
    """,
    "once_by_flag": """
        class Trainer:
            def train_epoch(self):
                for x, y in self.loader:
                    if self.stage >= 2 and not self._unfrozen:
                        self.unfreeze()  # <-
                        self._unfrozen = True
    """,
    "last_batch": """
        def train(model, loader):
            for i, (x, y) in enumerate(loader):
                if i == len(loader) - 1:
                    model.log()  # <-
    """,
    "per_epoch_modulo": """
        def train(model, loader, steps_per_epoch):
            for step, batch in enumerate(loader):
                if (step + 1) % steps_per_epoch == 0:
                    model.log()  # <-
    """,
    "plain_range_is_not_a_batch_loop": """
        def build(layers):
            for i in range(10):
                layers.append(i)  # <-
    """,
    "function_called_from_epoch_loop": """
        def adjust(opt, epoch):
            opt.zero_grad()  # <-

        def train(opt, loader, epochs):
            for epoch in range(epochs):
                for batch in loader:
                    pass
                adjust(opt, epoch)
    """,
    "epoch_hook": """
        import lightning.pytorch as pl
        class Model(pl.LightningModule):
            def on_train_epoch_end(self):
                self.log_stuff()  # <-
    """,
    "generic_hook_name_outside_framework": """
        class Helper:
            def backward(self, loss):
                loss.backward()  # <-
    """,
    "recursion_terminates": """
        def walk(node):
            walk(node.child)  # <-
    """,
    "generic_method_name_on_another_object": """
        class Trainer:
            def train(self):
                self.log_header()  # <-

        def evaluate(model, loader):
            for batch in loader:
                model.train()
    """,
    "after_the_functions_own_batch_loop": """
        class Trainer:
            def train_epoch(self):
                for batch in self.loader:
                    self.optimizer.step()
                self.scheduler.step()  # <-

            def fit(self, data_loader):
                for batch in data_loader:
                    self.train_epoch()
    """,
    "gate_counter_advanced_on_both_arms": """
        def train(model, loader, use_amp):
            step = 0
            for batch in loader:
                if use_amp:
                    step += 1
                else:
                    step += 1
                if step % 100 == 0:
                    model.decay()  # <-
    """,
    "gate_counter_advanced_in_the_gates_arm": """
        def train(model, optimizer, loader, accum):
            step = 0
            for i, batch in enumerate(loader):
                if (i + 1) % accum == 0:
                    optimizer.step()
                    step += 1
                    if step % 1000 == 0:
                        model.decay()  # <-
    """,
    "gate_on_an_attribute_counter": """
        class Trainer:
            def train_epoch(self):
                for batch in self.loader:
                    self.fit(batch)
                    if self.global_step % 100 == 0:
                        self.decay()  # <-
    """,
    "gate_in_an_inner_loop_that_is_not_a_batch_loop": """
        def train(models, data_iter, max_steps):
            for step in range(max_steps):
                batch = next(data_iter)
                for name, model in models.items():
                    if step % 1000 == 0:
                        model.decay()  # <-
    """,
    "branch_on_a_literal_false_flag": """
        def train(model, scheduler, loader):
            per_batch = False
            for batch in loader:
                model(batch)
                if per_batch:
                    scheduler.step()  # <-
    """,
    "if_false": """
        def train(model, loader):
            for batch in loader:
                if False:
                    model.debug()  # <-
    """,
    "epoch_loop_named_i": """
        def train(model, num_epochs):
            for i in range(num_epochs):
                model.epoch()  # <-
    """,
}


@pytest.mark.parametrize("name", sorted(PER_BATCH))
def test_runs_per_batch(name: str) -> None:
    result = answer(PER_BATCH[name])
    assert result.per_batch, result
    assert 0.5 <= result.confidence <= 1.0


@pytest.mark.parametrize("name", sorted(NOT_PER_BATCH))
def test_does_not_run_per_batch(name: str) -> None:
    result = answer(NOT_PER_BATCH[name])
    assert not result.per_batch, result


def test_describe_names_the_call_path() -> None:
    result = answer(PER_BATCH["method_called_from_loop"])
    assert result.via == ("get_loss",)
    assert result.describe() == "in `get_loss()`, called from the loop over `self.train_loader`"


def test_direct_calls_are_surer_than_calls_by_method_name_only() -> None:
    via_self = answer(PER_BATCH["method_called_from_loop"])
    via_other = answer(
        """
        class Trainer:
            def get_loss(self, x, y):
                return self.model(x, y)  # <-

        def train(trainer, loader):
            for x, y in loader:
                trainer.get_loss(x, y)
        """
    )
    assert via_other.per_batch
    assert via_other.confidence < via_self.confidence


def test_guard_is_reported() -> None:
    result = answer(NOT_PER_BATCH["every_n_steps"])
    assert "every-n" in result.guard


def test_classify_loop_kinds() -> None:
    context = _context(
        """
        def train(loader, epochs):
            for epoch in range(epochs):
                for batch in loader:
                    pass
        """
    )
    loops = [node for node in context.parents if isinstance(node, cst.For)]
    kinds = sorted(classify_loop(context, loop).kind for loop in loops)
    assert kinds == ["batch", "epoch"]


def test_asking_during_the_walk_raises() -> None:
    from torchlint.semantics.callgraph import WalkNotFinished

    source = "def train(loader, opt):\n    for x in loader:\n        opt.step()\n\nlater = 1\n"
    module = cst.parse_module(source)
    context = FileContext("example.py", source, module)
    asked = []

    def visit_call(node):
        with pytest.raises(WalkNotFinished, match="leave_Module"):
            runs_per_batch(context, node)
        asked.append(node)

    Walker({"Call": [visit_call]}, {}, context.parents, lambda *args: None).walk(module)
    assert asked
    assert runs_per_batch(context, asked[0]).per_batch


def test_a_stalled_gate_is_described() -> None:
    result = answer(PER_BATCH["gate_on_an_outer_counter"])
    assert "stays true on every pass until `iteration` changes" in result.describe()


def test_never_runs_is_the_guard() -> None:
    result = answer(NOT_PER_BATCH["branch_on_a_literal_false_flag"])
    assert result.guard == NEVER_RUNS


def _two_marked(source: str):
    context = _context(source)
    marked = []
    for node in context.parents:
        if isinstance(node, cst.SimpleStatementLine):
            comment = node.trailing_whitespace.comment
            if comment is not None and comment.value.startswith(MARK):
                marked.append(node.body[0])
    marked.sort(key=lambda n: source.index(cst.Module([]).code_for_node(n)))
    return context, marked


@pytest.mark.parametrize(
    ("source", "exclusive"),
    [
        (
            """
            def f(flag):
                if flag:
                    a()  # <-
                if not flag:
                    b()  # <-
            """,
            True,
        ),
        (
            """
            def f(epoch, warm):
                if epoch < warm:
                    a()  # <-
                else:
                    b()  # <-
            """,
            True,
        ),
        (
            """
            def f(epoch, warm):
                if epoch < warm:
                    a()  # <-
                if epoch >= warm:
                    b()  # <-
            """,
            True,
        ),
        (
            """
            def f(flag, other):
                if flag:
                    a()  # <-
                if other:
                    b()  # <-
            """,
            False,
        ),
        (
            """
            def f(flag):
                a()  # <-
                if not flag:
                    b()  # <-
            """,
            False,
        ),
    ],
)
def test_mutually_exclusive(source: str, exclusive: bool) -> None:
    context, (first, second) = _two_marked(textwrap.dedent(source))
    assert mutually_exclusive(context, first, second) is exclusive
    assert mutually_exclusive(context, second, first) is exclusive


def test_never_runs_reads_literal_flags() -> None:
    context = _context(
        """
        def f(x, flag):
            off = False
            if off:
                a()  # <-
        """
    )
    assert never_runs(context, _marked(context))
    context = _context(
        """
        def f(x, flag):
            off = False
            if x:
                off = True
            if off:
                a()  # <-
        """
    )
    assert not never_runs(context, _marked(context))
