"""Staged training loop of a low-light enhancer (TL004, TL005).

`get_mixed_loss` runs once per batch, so the mask learning rate is divided
by ten on every batch after the unfreeze; and the reconstruction weight is
in RAMP_KEYS, so it is zero in the first epoch of every stage.
"""

import torch
import torch.nn.functional as F

RAMP_KEYS = ("w_reconstruction", "w_ssim", "w_color_consistency", "w_edge")

STAGE_WEIGHTS = {
    1: {"w_reconstruction": 1.0, "w_ssim": 0.5, "w_color_consistency": 0.3, "w_edge": 0.05},
    2: {"w_reconstruction": 1.0, "w_ssim": 0.25, "w_color_consistency": 0.05, "w_edge": 0.09},
}


def ramp_colour(epoch_in_stage: int, warmup_epochs: int = 15) -> float:
    return min(1.0, epoch_in_stage / warmup_epochs)


def ssim_loss(pred, target):
    mu_p, mu_t = pred.mean(), target.mean()
    return 1 - (2 * mu_p * mu_t + 1e-4) / (mu_p**2 + mu_t**2 + 1e-4)


class Trainer:
    def __init__(self, model, optimizer, loader, stage_epochs=(10, 20)):
        self.model = model
        self.optimizer = optimizer
        self.loader = loader
        self.stage_epochs = stage_epochs
        self.stage = 1

    def weights_for(self, epoch_in_stage: int) -> dict:
        weights = dict(STAGE_WEIGHTS[self.stage])
        ramp = ramp_colour(epoch_in_stage)
        for key in RAMP_KEYS:
            weights[key] = weights[key] * ramp
        return weights

    def get_mixed_loss(self, pred, target, weights):
        if self.stage >= 2:
            for g in self.optimizer.param_groups:
                if g.get("name") == "mask":
                    g["lr"] *= 0.10
        rec = F.l1_loss(pred, target)
        return weights["w_reconstruction"] * rec + weights["w_ssim"] * ssim_loss(pred, target)

    def train_epoch(self, epoch_in_stage: int):
        weights = self.weights_for(epoch_in_stage)
        for low, high in self.loader:
            pred = self.model(low)
            loss = self.get_mixed_loss(pred, high, weights)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
