"""FRTM's light-weight target model ("score generator") and its online fit, written as plain tensor code.

score = filter(project(f16)): project is a 1x1 conv C16->P, filter a 3x3 conv P->1 (zero padding 1), both without
bias and both per-object runtime tensors (not parameters), so one exported program serves every object.

The fit minimises   sum_a w_a / (h w) * || m_a * (s_a - y_a) ||^2 + l_p ||P||^2 + l_f ||F||^2
(m: hinge mask, zero on background pixels already scored <= 0) by Gauss-Newton steps, each solved by a
fixed number of conjugate-gradient iterations. Jacobian products are written out by hand, so the whole fit
exports with no autograd.

Every product with a runtime weight is one single-batch ``torch.bmm`` over all N*h*w pixels, and the 3x3
spatial part is a convolution with a constant one-hot weight (nine taps summed, or one map gathered into its
nine shifted copies): XNNPACK (ExecuTorch) delegates bmm, transposes and elementwise ops with runtime operands,
but a convolution only with a constant weight, and it has no sum or comparison ops. The fit therefore works on
channel-major maps, CxNxhxw (= NCHW.transpose(0, 1)), where an N-sample product needs no per-sample loop or
reduction; the public functions take and return NCHW. (The spatial part used to be nine pad + slice shifts per
filter application: the unrolled first-frame fit then exported as ~7,800 ops, 1 MB of every bundle.)
"""

from __future__ import annotations

from functools import reduce
from operator import add

import torch
import torch.nn.functional as F
from torch import nn

from .config import ScoreFitConfig

Params = tuple[torch.Tensor, ...]
EPS = 1e-12
TAPS = tuple((i, j) for i in range(3) for j in range(3))  # filter taps in filter_w[..., i, j] (row-major) order


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a IxJ, b JxK -> IxK as a one-batch bmm (XNNPACK takes mm/conv only with constant weights, matmul adds an expand)."""
    return torch.bmm(a.reshape(1, *a.shape), b.reshape(1, *b.shape)).reshape(a.shape[0], b.shape[1])


def _project(f: torch.Tensor, proj_w: torch.Tensor) -> torch.Tensor:
    """Channel-major: f CxNxhxw, proj_w PxCx1x1 -> PxNxhxw."""
    return _mm(proj_w.flatten(1), f.flatten(1)).reshape(-1, *f.shape[1:])


def _project_grad(f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Channel-major: d/dP of sum(g * _project(f, P)): f CxNxhxw, g PxNxhxw -> PxCx1x1."""
    return _mm(g.flatten(1), f.flatten(1).T).reshape(g.shape[0], f.shape[0], 1, 1)


def _one_hot_taps() -> tuple[torch.Tensor, torch.Tensor]:
    """Constant conv weights over the nine filter taps k = (i, j) (row-major, :data:`TAPS`).

    SUM 1x9x3x3: conv2d(t Nx9xhxw, SUM, padding=1)[y, x] = sum_k t_k[y + i - 1, x + j - 1].
    GATHER 9x1x3x3: conv2d(u Nx1xhxw, GATHER, padding=1)[:, k] = u shifted by (i - 1, j - 1) (zero fill),
    i.e. [y, x] -> u[y + 1 - i, x + 1 - j]; exact, every output is one product with 1.
    """
    summed, gathered = torch.zeros(1, 9, 3, 3), torch.zeros(9, 1, 3, 3)
    for k, (i, j) in enumerate(TAPS):
        summed[0, k, i, j] = 1.0
        gathered[k, 0, 2 - i, 2 - j] = 1.0
    return summed, gathered


TAP_SUM, TAP_GATHER = _one_hot_taps()


def _filter(feat: torch.Tensor, filter_w: torch.Tensor) -> torch.Tensor:
    """Channel-major: feat PxNxhxw, filter_w 1xPx3x3 -> score 1xNxhxw.

    Each tap's channel sum t_ij = filter_w[0, :, i, j] . feat (one 9xP by PxNhw product), then
    score[y, x] = sum_ij t_ij[y + i - 1, x + j - 1] (a conv with the constant :data:`TAP_SUM`).
    """
    t = _mm(filter_w.reshape(-1, 9).T, feat.flatten(1)).reshape(9, *feat.shape[1:])
    return F.conv2d(t.transpose(0, 1), _like(TAP_SUM, t), padding=1).transpose(0, 1)


def _taps(u: torch.Tensor) -> torch.Tensor:
    """u 1xNxhxw -> 9xNxhxw: row k = u shifted by (i - 1, j - 1) for tap k = (i, j), the maps each filter
    tap meets in the adjoint of _filter (both its weight and its input side); a conv with :data:`TAP_GATHER`."""
    return F.conv2d(u.transpose(0, 1), _like(TAP_GATHER, u), padding=1).transpose(0, 1)


def _like(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A constant weight in ``x``'s dtype and device (itself when they match: an export then holds no cast)."""
    return weight if (weight.dtype, weight.device) == (x.dtype, x.device) else weight.to(x)


def _filter_grad(feat: torch.Tensor, u: torch.Tensor, taps: torch.Tensor | None = None) -> torch.Tensor:
    """Channel-major: d/dF of sum(u * _filter(feat, F)): feat PxNxhxw, u 1xNxhxw -> 1xPx3x3
    (``taps``: ``_taps(u)`` when the caller has it)."""
    taps = _taps(u) if taps is None else taps
    return _mm(feat.flatten(1), taps.flatten(1).T).reshape(1, -1, 3, 3)


def _filter_t(u: torch.Tensor, filter_w: torch.Tensor, taps: torch.Tensor | None = None) -> torch.Tensor:
    """Channel-major adjoint of _filter in its input: u 1xNxhxw, filter_w 1xPx3x3 -> PxNxhxw
    (``taps``: ``_taps(u)`` when the caller has it)."""
    taps = _taps(u) if taps is None else taps
    return _mm(filter_w.reshape(-1, 9), taps.flatten(1)).reshape(-1, *u.shape[1:])


def project(f16: torch.Tensor, proj_w: torch.Tensor) -> torch.Tensor:
    """f16 NxCxhxw, proj_w PxCx1x1 -> NxPxhxw (= F.conv2d(f16, proj_w))."""
    return _project(f16.transpose(0, 1), proj_w).transpose(0, 1)


def apply_filter(feat: torch.Tensor, filter_w: torch.Tensor) -> torch.Tensor:
    """feat NxPxhxw, filter_w 1xPx3x3 -> score Nx1xhxw (= F.conv2d(feat, filter_w, padding=1))."""
    return _filter(feat.transpose(0, 1), filter_w).transpose(0, 1)


def filter_transpose(u: torch.Tensor, filter_w: torch.Tensor) -> torch.Tensor:
    """u Nx1xhxw, filter_w 1xPx3x3 -> NxPxhxw (= F.conv_transpose2d(u, filter_w, padding=1)), the vjp of
    apply_filter in its input."""
    return _filter_t(u.transpose(0, 1), filter_w).transpose(0, 1)


def filter_grad(feat: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """d/dF of sum(u * apply_filter(feat, F)): feat NxPxhxw, u Nx1xhxw -> 1xPx3x3."""
    return _filter_grad(feat.transpose(0, 1), u.transpose(0, 1))


def project_grad(f16: torch.Tensor, g_feat: torch.Tensor) -> torch.Tensor:
    """d/dP of sum(g_feat * project(f16, P)): f16 NxCxhxw, g_feat NxPxhxw -> PxCx1x1."""
    return _project_grad(f16.transpose(0, 1), g_feat.transpose(0, 1))


def hinge_mask(score: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """1 where the pixel holds some object or the score is positive; 0 on background already scored <= 0.

    That is (max(label - 0.01, score) > 0) as 0/1, written ceil(clamp(., 0, 1)) (XNNPACK has no comparisons).
    """
    return torch.ceil(torch.clamp(torch.maximum(label - 0.01, score), 0.0, 1.0))


def _sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of all elements as a 1x1x1x1 tensor, via a mean over the last two axes, which XNNPACK takes (it has no
    sum). Not a 1xK by Kx1 bmm: that adds the K terms in sequence, and CG's float32 results visibly lose accuracy."""
    return float(x.numel()) * x.reshape(1, 1, 1, -1).mean(dim=(2, 3), keepdim=True)  # float: an int adds a cast op


def _dot(a: Params, b: Params) -> torch.Tensor:
    """sum_i <a_i, b_i> as a 0-dim tensor."""
    return reduce(add, (_sum(x * y) for x, y in zip(a, b))).reshape(())


def _axpy(alpha: torch.Tensor, x: Params, y: Params) -> Params:
    return tuple(yi + alpha * xi for xi, yi in zip(x, y))


def conjugate_gradient(apply_a, b: Params, iters: int) -> Params:
    """Solve A d = b from d = 0 with a fixed number of CG iterations (apply_a: Params -> Params)."""
    d = tuple(0.0 * t for t in b)  # zeros as a multiply: a fill op would stay outside XNNPACK
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
    if dy == dx == 0:
        return x  # (an empty pad + slice exports as an alias op outside XNNPACK)
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
    filter_init: 1xPx3x3 zeros, the filter's starting point (not saved; a buffer so exports hold a constant).
    """

    def __init__(self, *, in_ch: int, proj_ch: int, fit: ScoreFitConfig, seed: int = 0) -> None:
        super().__init__()
        self.fit = fit
        gen = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(max(in_ch, proj_ch), max(in_ch, proj_ch), generator=gen))
        self.register_buffer("project_init", q[:proj_ch, :in_ch].contiguous().reshape(proj_ch, in_ch, 1, 1))
        self.register_buffer("filter_init", torch.zeros(1, proj_ch, 3, 3), persistent=False)

    def forward(self, f16: torch.Tensor, proj_w: torch.Tensor, filter_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f16 NxCxhxw, proj_w, filter_w) -> (score Nx1xhxw, projected feature NxPxhxw)."""
        # NCHW in between on purpose: one channel-major feat feeding both outputs makes onnxslim 0.1.98 write an
        # invalid score_gen.onnx (a Reshape left reading a tensor it removed).
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
        """First-frame fit of both layers on the frame and augmented copies: :meth:`init_step`, then
        :meth:`refit_step` once per later Gauss-Newton step (what the host does with ``score_init`` and
        ``score_refit``).

        f16 1xCxhxw, label16 1x1xhxw in [0, 1] ->
        (proj_w PxCx1x1, filter_w 1xPx3x3, mem_feats AxPxhxw, mem_labels Ax1xhxw).
        """
        fit = self.init_step(f16, label16)
        for _ in range(self.fit.refit_steps):
            fit = self.refit_step(f16, label16, fit[0], fit[1])
        return fit

    def init_step(self, f16: torch.Tensor, label16: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The first Gauss-Newton step from the fixed initialisation (``init_cg_iters[0]`` CG iterations);
        shapes as :meth:`init_fit`."""
        return self._fit_step(f16, label16, self.project_init, self.filter_init, self.fit.init_cg_iters[0])

    def refit_step(self, f16: torch.Tensor, label16: torch.Tensor, proj_w: torch.Tensor,
                   filter_w: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One later Gauss-Newton step from (proj_w PxCx1x1, filter_w 1xPx3x3) (``refit_cg_iters`` CG
        iterations); shapes as :meth:`init_fit`."""
        return self._fit_step(f16, label16, proj_w, filter_w, self.fit.refit_cg_iters)

    def _fit_step(self, f16, label16, proj_w, filter_w, iters: int) -> tuple[torch.Tensor, ...]:
        a = self.fit.aug_copies
        x = augment(f16, a).transpose(0, 1)  # CxAxhxw
        y = augment(label16, a)
        proj_w, filter_w = self._gn_step_both(x, y.transpose(0, 1), 1.0 / a, proj_w, filter_w, iters)
        return proj_w, filter_w, _project(x, proj_w).transpose(0, 1), y

    def update_fit(self, mem_feats: torch.Tensor, mem_labels: torch.Tensor, mem_weights: torch.Tensor,
                   filter_w: torch.Tensor) -> torch.Tensor:
        """One GN step on the filter only over the weighted memory (empty slots have weight 0).

        mem_feats MxPxhxw, mem_labels Mx1xhxw, mem_weights M, filter_w 1xPx3x3 -> filter_w.
        """
        w = mem_weights / (_sum(mem_weights).reshape(1) + EPS)
        (step,) = self._gn_solve_filter(mem_feats.transpose(0, 1), mem_labels.transpose(0, 1), w, filter_w,
                                        self.fit.update_cg_iters)
        return filter_w + step

    # The GN steps work on channel-major maps: feats PxNxhxw, x CxNxhxw, scores and labels y 1xNxhxw.

    def _pixel_weights(self, s: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | float) -> torch.Tensor:
        """s, y Nx1xhxw or 1xNxhxw; weights: N per-sample weights, or one float for all samples."""
        if isinstance(weights, torch.Tensor):
            weights = weights.reshape(*s.shape[:2], 1, 1)
        return hinge_mask(s, y) * (weights / float(s.shape[-1] * s.shape[-2]))

    def _gn_solve_filter(self, feats, y, weights, filter_w, iters) -> Params:
        s = _filter(feats, filter_w)
        wm = self._pixel_weights(s, y, weights)
        lam = self.fit.reg_filter
        b = (-(_filter_grad(feats, wm * (s - y)) + lam * filter_w),)

        def apply_a(v: Params) -> Params:
            return (_filter_grad(feats, wm * _filter(feats, v[0])) + lam * v[0],)

        return conjugate_gradient(apply_a, b, iters)

    def _gn_step_both(self, x, y, weights, proj_w, filter_w, iters) -> tuple[torch.Tensor, torch.Tensor]:
        feats = _project(x, proj_w)
        s = _filter(feats, filter_w)
        wm = self._pixel_weights(s, y, weights)
        lam_p, lam_f = self.fit.reg_project, self.fit.reg_filter

        def vjp(u: torch.Tensor) -> Params:
            taps = _taps(u)
            return _project_grad(x, _filter_t(u, filter_w, taps)), _filter_grad(feats, u, taps)

        def jvp(v: Params) -> torch.Tensor:
            return _filter(feats, v[1]) + _filter(_project(x, v[0]), filter_w)

        g = vjp(wm * (s - y))
        b = (-(g[0] + lam_p * proj_w), -(g[1] + lam_f * filter_w))

        def apply_a(v: Params) -> Params:
            jtj = vjp(wm * jvp(v))
            return jtj[0] + lam_p * v[0], jtj[1] + lam_f * v[1]

        d = conjugate_gradient(apply_a, b, iters)
        return proj_w + d[0], filter_w + d[1]
