"""Low-light enhancement decoder with data-dependent Python branches (TL002)."""

import torch
import torch.nn as nn


class TransformerDecoder(nn.Module):
    def __init__(self, dim: int = 64):
        super().__init__()
        self.proj = nn.Conv2d(dim, 3, kernel_size=1)

    def forward(self, tokens, residual):
        enhanced = torch.sigmoid(self.proj(tokens)) + residual
        enhanced_lum = 0.299 * enhanced[:, 0:1] + 0.587 * enhanced[:, 1:2] + 0.114 * enhanced[:, 2:3]
        color_diff = enhanced - enhanced_lum
        saturation = color_diff.abs().mean()
        if saturation < 0.1:
            enhanced = enhanced_lum + color_diff * 1.5
        return enhanced.clamp(0.0, 1.0)
