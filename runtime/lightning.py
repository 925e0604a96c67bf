"""A Lightning callback running the :mod:`torchlint.runtime.probes` on a LightningModule.

Lightning is optional: importing this module never fails without it (the
callback then derives from ``object`` and works with anything that calls the
same hooks). The forward checks are attached to every submodule, so a
``training_step`` that calls ``self.net(x)`` instead of ``self(x)`` is checked
too. In ``training_step``, put the named loss terms on the module
(``self.loss_terms = {"rec": rec, "kl": kl}``) for the term checks, and return
``{"loss": loss, "preds": out, "targets": y}`` for the collapse checks::

    trainer = lightning.Trainer(callbacks=[TorchlintCallback()])
"""

from __future__ import annotations

from typing import Any

from torchlint.runtime.probes import Finding, Thresholds, Watch


def _callback_base():
    for module_name in ("lightning.pytorch", "pytorch_lightning"):
        try:
            module = __import__(module_name, fromlist=["Callback"])
            return module.Callback
        except ImportError:
            continue
    return object


class TorchlintCallback(_callback_base()):
    """Attach a :class:`~torchlint.runtime.probes.Watch` to the module being trained.

    ``terms_attribute`` names the module attribute holding the step's loss terms;
    other keyword arguments go to the :class:`Watch` (``thresholds``, ``on_finding``,
    or any :class:`Thresholds` field). Findings are in :attr:`findings`.
    """

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        terms_attribute: str = "loss_terms",
        **watch_kwargs: Any,
    ) -> None:
        super().__init__()
        self.thresholds = thresholds
        self.terms_attribute = terms_attribute
        self.watch_kwargs = watch_kwargs
        self.watch: Watch | None = None

    @property
    def findings(self) -> list[Finding]:
        """Findings so far (empty before training starts)."""
        return self.watch.findings if self.watch is not None else []

    def on_train_start(self, trainer, pl_module) -> None:
        """Create the watch on the module, its first optimizer and scheduler."""
        optimizers = list(getattr(trainer, "optimizers", None) or [])
        configs = list(getattr(trainer, "lr_scheduler_configs", None) or [])
        scheduler = getattr(configs[0], "scheduler", None) if configs else None
        self.watch = Watch(
            pl_module,
            optimizers[0] if optimizers else None,
            scheduler=scheduler,
            thresholds=self.thresholds,
            **self.watch_kwargs,
        )

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        """Check the step's named loss terms while their graph is still alive."""
        if self.watch is None:
            return
        terms = getattr(pl_module, self.terms_attribute, None)
        if isinstance(terms, dict) and terms:
            self.watch.check_terms(terms)
        self.watch.add_loss(loss)

    def on_after_backward(self, trainer, pl_module) -> None:
        """Gradient norms and learning rates of this step."""
        if self.watch is not None:
            self.watch.after_backward()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Collapse checks from ``{"preds": ..., "targets": ...}`` in the step's output."""
        if self.watch is not None and isinstance(outputs, dict) and "preds" in outputs:
            self.watch.observe(outputs["preds"], outputs.get("targets"))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        """Per-epoch checks (TL005)."""
        if self.watch is not None:
            self.watch.end_epoch()

    def on_train_end(self, trainer, pl_module) -> None:
        """Remove the hooks."""
        if self.watch is not None:
            self.watch.close()
