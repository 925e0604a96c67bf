"""The same training loop written correctly: torchlint stays quiet here."""

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import OneCycleLR, StepLR


class RefineHead(torch.nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.refine = torch.nn.Sequential(torch.nn.Linear(dim, 64), torch.nn.Tanh())

    def forward(self, feat, coarse_pts):
        delta = 0.2 * self.refine(feat).view(coarse_pts.shape)
        return torch.clamp(coarse_pts + delta, 0.0, 1.0)


def kl_weight(epoch: int, warmup: int = 10, beta: float = 1e-5) -> float:
    return beta * min(1.0, epoch / warmup)


def train(model, train_loader, epochs: int = 90):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(epochs):
        for x, y in train_loader:
            recon, mu, logvar = model(x)
            rec = F.l1_loss(recon, y)
            kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
            loss = rec + kl_weight(epoch) * kl
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        if epoch == 30:
            for g in optimizer.param_groups:
                g["lr"] *= 0.1


def train_one_cycle(model, loader, steps: int):
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    scheduler = OneCycleLR(optimizer, max_lr=3e-4, total_steps=steps)
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
