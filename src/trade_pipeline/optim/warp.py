"""A power warp of the modelled outcome, fitted to what was told (Yeo-Johnson, as HEBO warps).

On the logit scale, students that learned nothing (chance accuracy) lie far below the rest, so a
GP with Gaussian noise spends its variance on them and squeezes every student near a target into
a sliver of its range. A Yeo-Johnson transform (Yeo & Johnson 2000), its power fitted by maximum
likelihood to the told logits after standardising them (HEBO, Cowen-Rivers et al. 2022, warps its
outputs the same way), makes them closer to normal: the long tail is compressed, the crowded top
spread out. It is monotone, so a target maps to one threshold and samples map back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

MAX_POWER = 4.0
"""The fitted power is kept within ``[-MAX_POWER + 2, MAX_POWER]``: a few dozen outcomes cannot
support a sharper warp, and the inverse stays well-conditioned."""


@dataclass(frozen=True)
class PowerWarp:
    """``z = YJ_power((y - centre) / scale)`` of logits ``y``; the identity's shape at power 1."""

    centre: float = 0.0
    scale: float = 1.0
    power: float = 1.0

    @classmethod
    def fit(cls, logits: np.ndarray) -> PowerWarp:
        """The warp whose power makes the standardised ``logits`` most normal (maximum likelihood);
        the identity's shape for fewer than three distinct values."""
        logits = np.asarray(logits, dtype=np.float64)
        centre, scale = float(np.mean(logits)), float(np.std(logits))
        if len(np.unique(logits)) < 3 or not scale > 0:
            return cls(centre, scale if scale > 0 else 1.0)
        power = float(stats.yeojohnson_normmax((logits - centre) / scale))
        return cls(centre, scale, float(np.clip(power, 2.0 - MAX_POWER, MAX_POWER)))

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        x = (logits - self.centre) / self.scale
        lam = self.power
        upper = torch.log1p(x.clamp_min(0)) if lam == 0 else ((1 + x.clamp_min(0)) ** lam - 1) / lam
        lower = -torch.log1p(-x.clamp_max(0)) if lam == 2 else -((1 - x.clamp_max(0)) ** (2 - lam) - 1) / (2 - lam)
        return torch.where(x >= 0, upper, lower)

    def inverse(self, warped: torch.Tensor) -> torch.Tensor:
        """The logits whose :meth:`forward` is ``warped``; values beyond the warp's range (a power
        below 0 bounds it above, one above 2 below) are taken to its edge."""
        lam = self.power
        z = warped
        if lam < 0:
            z = z.clamp(max=-1 / lam * (1 - 1e-9))
        if lam > 2:
            z = z.clamp(min=1 / (2 - lam) * (1 - 1e-9))
        upper = torch.expm1(z.clamp_min(0)) if lam == 0 else (1 + lam * z.clamp_min(0)) ** (1 / lam) - 1
        lower = -torch.expm1(-z.clamp_max(0)) if lam == 2 else 1 - (1 - (2 - lam) * z.clamp_max(0)) ** (1 / (2 - lam))
        return self.centre + self.scale * torch.where(z >= 0, upper, lower)

    def slope(self, logits: torch.Tensor) -> torch.Tensor:
        """d forward / d logit at ``logits``: what carries a variance onto the warped scale."""
        x = (logits - self.centre) / self.scale
        lam = self.power
        return torch.where(x >= 0, (1 + x.clamp_min(0)) ** (lam - 1), (1 - x.clamp_max(0)) ** (1 - lam)) / self.scale
