"""FRTM's light-weight target model ("score generator") and its online fit, written as plain tensor code.

score = filter(project(f16)): project is a 1x1 conv C16->P, filter a 3x3 conv P->1, both without bias
and both per-object runtime tensors (not parameters), so one exported program serves every object.

The fit minimises   sum_a w_a / (h w) * || m_a * (s_a - y_a) ||^2 + l_p ||P||^2 + l_f ||F||^2
(m: hinge mask, zero on background pixels already scored <= 0) by Gauss-Newton steps, each solved by a
fixed number of conjugate-gradient iterations. Jacobian products are convolutions, transposed
convolutions, matmuls and nine shifted multiply-sums, so the whole fit exports with no autograd.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ScoreFitConfig

Params = tuple[torch.Tensor, ...]
EPS = 1e-12


def project(f16: torch.Tensor, proj_w: torch.Tensor) -> torch.Tensor:
    """f16 NxCxhxw, proj_w PxCx1x1 -> NxPxhxw."""
    return F.conv2d(f16, proj_w)


def apply_filter(feat: torch.Tensor, filter_w: torch.Tensor) -> torch.Tensor:
    """feat NxPxhxw, filter_w 1xPx3x3 -> score Nx1xhxw."""
    return F.conv2d(feat, filter_w, padding=1)


def filter_grad(feat: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """d/dF of sum(u * apply_filter(feat, F)): feat NxPxhxw, u Nx1xhxw -> 1xPx3x3."""
    h, w = feat.shape[-2:]
    padded = F.pad(feat, (1, 1, 1, 1))
    taps = [(padded[:, :, i : i + h, j : j + w] * u).sum(dim=(0, 2, 3)) for i in range(3) for j in range(3)]
    return torch.stack(taps, dim=1).reshape(1, feat.shape[1], 3, 3)


def project_grad(f16: torch.Tensor, g_feat: torch.Tensor) -> torch.Tensor:
    """d/dP of sum(g_feat * project(f16, P)): f16 NxCxhxw, g_feat NxPxhxw -> PxCx1x1."""
    g = torch.bmm(g_feat.flatten(2), f16.flatten(2).transpose(1, 2)).sum(dim=0)
    return g.reshape(g.shape[0], g.shape[1], 1, 1)


def hinge_mask(score: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """1 where the pixel holds some object or the score is positive; 0 on background already scored <= 0."""
    return torch.maximum((label > 0.01).to(score.dtype), (score > 0).to(score.dtype))


def _dot(a: Params, b: Params) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))


def _axpy(alpha: torch.Tensor, x: Params, y: Params) -> Params:
    return tuple(yi + alpha * xi for xi, yi in zip(x, y))


def conjugate_gradient(apply_a, b: Params, iters: int) -> Params:
    """Solve A d = b from d = 0 with a fixed number of CG iterations (apply_a: Params -> Params)."""
    d = tuple(torch.zeros_like(t) for t in b)
    r, p = b, b
    rr = _dot(r, r)
    for _ in range(iters):
        ap = apply_a(p)
        alpha = rr / (_dot(p, ap) + EPS)
        d = _axpy(alpha, p, d)
        r = _axpy(-alpha, ap, r)
        rr_new = _dot(r, r)
        p = _axpy(rr_new / (rr + EPS), p, r)
        rr = rr_new
    return d


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate NCHW by (dy, dx) cells with zero fill (static pad + slice)."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    y0, x0 = max(-dy, 0), max(-dx, 0)
    return padded[:, :, y0 : y0 + h, x0 : x0 + w]


AUGMENTATIONS = ("identity", "hflip", "right", "left", "down", "up")


def augment(x: torch.Tensor, count: int) -> torch.Tensor:
    """The first frame and ``count - 1`` copies (flip, one-cell shifts) stacked on the batch axis: 1xCxhxw -> countxCxhxw."""
    ops = {
        "identity": lambda t: t,
        "hflip": lambda t: torch.flip(t, dims=(3,)),
        "right": lambda t: shift(t, 0, 1),
        "left": lambda t: shift(t, 0, -1),
        "down": lambda t: shift(t, 1, 0),
        "up": lambda t: shift(t, -1, 0),
    }
    names = [AUGMENTATIONS[i % len(AUGMENTATIONS)] for i in range(count)]
    return torch.cat([ops[n](x) for n in names], dim=0)


class ScoreGenerator(nn.Module):
    """Holds the fixed projection initialisation and the fit schedule; weights themselves are runtime tensors.

    project_init: PxCx1x1 orthonormal rows (seeded), the starting point of every first-frame fit.
    """

    def __init__(self, *, in_ch: int, proj_ch: int, fit: ScoreFitConfig, seed: int = 0) -> None:
        super().__init__()
        self.fit = fit
        gen = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(max(in_ch, proj_ch), max(in_ch, proj_ch), generator=gen))
        self.register_buffer("project_init", q[:proj_ch, :in_ch].contiguous().reshape(proj_ch, in_ch, 1, 1))

    def forward(self, f16: torch.Tensor, proj_w: torch.Tensor, filter_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f16 NxCxhxw, proj_w, filter_w) -> (score Nx1xhxw, projected feature NxPxhxw)."""
        feat = project(f16, proj_w)
        return apply_filter(feat, filter_w), feat

    def loss(self, feats: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, filter_w: torch.Tensor,
             proj_w: torch.Tensor | None = None, f16: torch.Tensor | None = None) -> torch.Tensor:
        """The fit objective (for tests and monitoring); with f16/proj_w given, feats are recomputed from them."""
        if f16 is not None:
            feats = project(f16, proj_w)
        s = apply_filter(feats, filter_w)
        r = hinge_mask(s, labels) * (s - labels)
        hw = s.shape[-1] * s.shape[-2]
        data = (weights.view(-1, 1, 1, 1) * r * r).sum() / hw
        reg = self.fit.reg_filter * (filter_w * filter_w).sum()
        if proj_w is not None:
            reg = reg + self.fit.reg_project * (proj_w * proj_w).sum()
        return data + reg

    def init_fit(self, f16: torch.Tensor, label16: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """First-frame fit of both layers on the frame and augmented copies.

        f16 1xCxhxw, label16 1x1xhxw in [0, 1] ->
        (proj_w PxCx1x1, filter_w 1xPx3x3, mem_feats AxPxhxw, mem_labels Ax1xhxw).
        """
        x = augment(f16, self.fit.aug_copies)
        y = augment(label16, self.fit.aug_copies)
        weights = torch.full((x.shape[0],), 1.0 / x.shape[0], dtype=x.dtype)
        proj_w = self.project_init
        filter_w = torch.zeros(1, proj_w.shape[0], 3, 3, dtype=x.dtype)
        for iters in self.fit.init_cg_iters:
            proj_w, filter_w = self._gn_step_both(x, y, weights, proj_w, filter_w, iters)
        return proj_w, filter_w, project(x, proj_w), y

    def update_fit(self, mem_feats: torch.Tensor, mem_labels: torch.Tensor, mem_weights: torch.Tensor,
                   filter_w: torch.Tensor) -> torch.Tensor:
        """One GN step on the filter only over the weighted memory (empty slots have weight 0).

        mem_feats MxPxhxw, mem_labels Mx1xhxw, mem_weights M, filter_w 1xPx3x3 -> filter_w.
        """
        w = mem_weights / (mem_weights.sum() + EPS)
        (step,) = self._gn_solve_filter(mem_feats, mem_labels, w, filter_w, self.fit.update_cg_iters)
        return filter_w + step

    def _pixel_weights(self, s: torch.Tensor, y: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        hw = s.shape[-1] * s.shape[-2]
        return hinge_mask(s, y) * (weights.view(-1, 1, 1, 1) / hw)

    def _gn_solve_filter(self, feats, y, weights, filter_w, iters) -> Params:
        s = apply_filter(feats, filter_w)
        wm = self._pixel_weights(s, y, weights)
        lam = self.fit.reg_filter
        b = (-(filter_grad(feats, wm * (s - y)) + lam * filter_w),)

        def apply_a(v: Params) -> Params:
            return (filter_grad(feats, wm * apply_filter(feats, v[0])) + lam * v[0],)

        return conjugate_gradient(apply_a, b, iters)

    def _gn_step_both(self, x, y, weights, proj_w, filter_w, iters) -> tuple[torch.Tensor, torch.Tensor]:
        feats = project(x, proj_w)
        s = apply_filter(feats, filter_w)
        wm = self._pixel_weights(s, y, weights)
        lam_p, lam_f = self.fit.reg_project, self.fit.reg_filter

        def vjp(u: torch.Tensor) -> Params:
            g_feat = F.conv_transpose2d(u, filter_w, padding=1)
            return project_grad(x, g_feat), filter_grad(feats, u)

        def jvp(v: Params) -> torch.Tensor:
            return apply_filter(feats, v[1]) + apply_filter(project(x, v[0]), filter_w)

        g = vjp(wm * (s - y))
        b = (-(g[0] + lam_p * proj_w), -(g[1] + lam_f * filter_w))

        def apply_a(v: Params) -> Params:
            jtj = vjp(wm * jvp(v))
            return jtj[0] + lam_p * v[0], jtj[1] + lam_f * v[1]

        d = conjugate_gradient(apply_a, b, iters)
        return proj_w + d[0], filter_w + d[1]
