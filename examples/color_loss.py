"""A colour-diversity loss whose early returns carry no gradient (TL003)."""

import torch


def color_diversity_loss(enhanced: torch.Tensor) -> torch.Tensor:
    mean_rgb = enhanced.mean(dim=(2, 3))
    avg_diversity = (mean_rgb - mean_rgb.mean(dim=1, keepdim=True)).abs().mean()
    saturation = (enhanced.max(dim=1).values - enhanced.min(dim=1).values).mean()
    if avg_diversity > 0.05 and saturation > 0.2:
        return torch.tensor(0.0, device=enhanced.device)
    if saturation < 0.05:
        return torch.tensor(0.5, device=enhanced.device)
    return torch.exp(-15.0 * avg_diversity)
