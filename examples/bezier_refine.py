"""Coarse-to-fine Bézier control-point regression (TL001).

The coarse head already ends in a sigmoid; the refine head adds a delta and
squashes again, so the refined points start biased toward 0.5 and cannot
reach the image border without a huge delta.
"""

import torch
import torch.nn as nn


class BezierCoarseHead(nn.Module):
    def __init__(self, in_dim: int, n_points: int = 8):
        super().__init__()
        self.regressor = nn.Sequential(
            nn.Linear(in_dim, 256),
            nn.ReLU(inplace=True),
            nn.Dropout(0.1),
            nn.Linear(256, n_points * 2),
            nn.Sigmoid(),
        )

    def forward(self, feat):
        return self.regressor(feat).view(feat.size(0), -1, 2)


class BezierRefineHead(nn.Module):
    def __init__(self, in_dim: int, n_points: int = 8):
        super().__init__()
        self.refine = nn.Sequential(nn.Linear(in_dim + n_points * 2, 256), nn.ReLU(), nn.Linear(256, n_points * 2))

    def forward(self, feat, coarse_pts):
        feat_flat = torch.cat([feat, coarse_pts.flatten(1)], dim=1)
        delta = self.refine(feat_flat)
        refined = coarse_pts + delta.view(coarse_pts.shape)
        return torch.sigmoid(refined)


class BezierDetector(nn.Module):
    def __init__(self, backbone: nn.Module, feat_dim: int = 512):
        super().__init__()
        self.backbone = backbone
        self.coarse = BezierCoarseHead(feat_dim)
        self.fine = BezierRefineHead(feat_dim)

    def forward(self, images):
        feat = self.backbone(images).flatten(1)
        coarse_pts = self.coarse(feat)
        return coarse_pts, self.fine(feat, coarse_pts)
