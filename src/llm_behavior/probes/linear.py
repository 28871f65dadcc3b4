"""Linear probes for many layers and targets at once: closed-form ridge and L2 logistic regression.

Shapes: ``X`` is (G, n, d) - G layers stacked, n examples, width d; ``Y`` is (n, T) - T targets that
share the rows (e.g. a real label and its permuted control). Everything is float64 torch.

Ridge. Features are standardised on the training data (``standardize=True``; the penalty then
treats every feature alike) and the intercept is not penalised. One symmetric eigendecomposition
per layer (of X^T X or X X^T, whichever is smaller) gives the whole regularisation path:
with ``P = X V`` (so ``P^T P = diag(lam)``) the fitted values are
``ybar + P diag(1/(lam+alpha)) P^T y`` and the hat-matrix diagonal is
``1/n + sum_k P_ik^2/(lam_k+alpha)``. ``alpha`` is chosen per (layer, target) by exact
leave-one-out error ``mean(((y - yhat)/(1 - h))^2)`` - the same criterion as scikit-learn's
``RidgeCV`` - so no refitting per fold of an inner CV is needed.

With ``groups`` (the prompt of each row) the penalty is chosen by exact leave-one-GROUP-out
error instead, the same grouping as the outer CV: for a linear smoother the residuals of group
g refit without g are ``(I - H_gg)^{-1} e_g`` with ``H_gg`` the group's block of the hat matrix
(``1/n + P_g diag(1/(lam+alpha)) P_g^T``, the unpenalised intercept included). Row-level LOO
leaks when a prompt's rows are near copies of each other (its other generations stay in the
training data and share its label); the grouped choice does not. The standardisation (mean and
scale of the features, label-free) stays that of the whole training set, as in ``RidgeCV``.

Logistic. Minimises ``mean(logloss) + lam/2 ||w||^2`` (intercept free) in the same spectral basis
with Böhning's fixed curvature bound (X^T X/4 + lam n I is diagonal there): a monotone MM
iteration whose every step costs one matrix product. ``lam`` is chosen on a held-out 20% of the
training data (as the original chose its epoch on a dev split), then refit on all of it.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-2, 6, 17))
DEFAULT_LAMBDAS: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)


@contextmanager
def _single_thread():
    """Run LAPACK eigensolvers on one torch thread: torch's multi-threaded batched ``eigh`` can be
    far slower on a busy machine (measured on 2 shared cores: 5 s vs 0.025 s for 31 48x48
    matrices, 8.7 s vs 1.4 s for 31 576x576), while the matrix products around it keep every
    thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _eigh(M: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with _single_thread():
        return torch.linalg.eigh(M)


def _as_t(a: np.ndarray | torch.Tensor) -> torch.Tensor:
    return (
        a.to(torch.float64)
        if isinstance(a, torch.Tensor)
        else torch.from_numpy(np.asarray(a, dtype=np.float64))
    )


@dataclass
class Spectral:
    """Standardised training design of G layers in its eigenbasis."""

    mean: torch.Tensor  # (G, d)
    scale: torch.Tensor  # (G, d)
    V: torch.Tensor  # (G, d, r) orthonormal directions (zero columns for null directions)
    lam: torch.Tensor  # (G, r) eigenvalues of X^T X (>= 0)
    P: torch.Tensor  # (G, n, r) training scores X V

    @property
    def n(self) -> int:
        return int(self.P.shape[1])

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Scores (G, m, r) of new rows."""
        return ((_as_t(X) - self.mean[:, None, :]) / self.scale[:, None, :]) @ self.V


def spectral(
    X: np.ndarray | torch.Tensor, standardize: bool = True, rtol: float = 1e-10
) -> Spectral:
    """Centre (and scale) each layer's training design and eigendecompose its Gram matrix."""
    X = _as_t(X)
    if X.ndim != 3:
        raise ValueError(f"X must be (layers, rows, features), got shape {tuple(X.shape)}")
    G, n, d = X.shape
    mean = X.mean(1)
    if standardize:
        scale = X.std(1, correction=0)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    else:
        scale = torch.ones_like(mean)
    Xs = (X - mean[:, None, :]) / scale[:, None, :]
    if d <= n:
        lam, V = _eigh(Xs.transpose(1, 2) @ Xs)
        lam = lam.clamp(min=0)
        keep = lam > rtol * lam.amax(-1, keepdim=True).clamp(min=1e-300)
        V = V * keep[:, None, :]
        lam = lam * keep
        P = Xs @ V
    else:
        lam, U = _eigh(Xs @ Xs.transpose(1, 2))
        lam = lam.clamp(min=0)
        keep = lam > rtol * lam.amax(-1, keepdim=True).clamp(min=1e-300)
        s = torch.sqrt(lam)
        inv_s = torch.where(
            keep, 1.0 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s)
        )
        V = (Xs.transpose(1, 2) @ U) * inv_s[:, None, :]
        lam = lam * keep
        P = U * (s * keep)[:, None, :]
    return Spectral(mean, scale, V, lam, P)


# ---------------------------------------------------------------------------------------- ridge
@dataclass
class RidgeFit:
    spectral: Spectral
    coef: torch.Tensor  # (G, d, T) in standardised units
    intercept: torch.Tensor  # (T,)
    alpha: torch.Tensor  # (G, T) chosen penalty
    loo_mse: torch.Tensor  # (G, T) leave-one-out MSE at the chosen alpha
    path_mse: torch.Tensor  # (G, A, T) leave-one-out MSE along the alpha grid

    def predict(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(G, m, T) predictions for new rows of every layer."""
        Xs = (_as_t(X) - self.spectral.mean[:, None, :]) / self.spectral.scale[:, None, :]
        return Xs @ self.coef + self.intercept

    def raw_coef(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Coefficients (G, d, T) and intercepts (G, T) on the unstandardised features."""
        w = self.coef / self.spectral.scale[:, :, None]
        b = self.intercept[None, :] - torch.einsum("gd,gdt->gt", self.spectral.mean, w)
        return w, b


def ridge_fit(
    X: np.ndarray | torch.Tensor | Spectral,
    Y: np.ndarray | torch.Tensor,
    alphas: tuple[float, ...] | list[float] = DEFAULT_ALPHAS,
    standardize: bool = True,
    groups: np.ndarray | None = None,
) -> RidgeFit:
    """Ridge for every (layer, target), penalty chosen by exact leave-one-out error
    (leave-one-group-out where ``groups`` gives each row's group, e.g. its prompt)."""
    sp = X if isinstance(X, Spectral) else spectral(X, standardize)
    Y = _as_t(Y)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.shape[0] != sp.n:
        raise ValueError(f"Y has {Y.shape[0]} rows, X has {sp.n}")
    group_index = _group_index(groups, sp.n)
    alphas_t = torch.as_tensor(list(alphas), dtype=torch.float64)
    if (alphas_t <= 0).any():
        raise ValueError("ridge alphas must be > 0")
    ybar = Y.mean(0)
    Yc = Y - ybar
    PTy = sp.P.transpose(1, 2) @ Yc  # (G, r, T)
    P2 = sp.P**2
    n = sp.n
    G, T = sp.P.shape[0], Y.shape[1]
    r = sp.P.shape[2]
    # all alphas at once as one (G, n, r) @ (G, r, a*T) product (no broadcast copy of P), in
    # chunks that keep (G, n, a*T) under ~256 MB
    step = max(1, int(2**25 // max(G * n * T, 1)))
    path = []
    for i in range(0, len(alphas_t), step):
        C = 1.0 / (sp.lam[:, None, :] + alphas_t[None, i : i + step, None])  # (G, a, r)
        a = C.shape[1]
        M = (C[..., None] * PTy[:, None]).permute(0, 2, 1, 3).reshape(G, r, a * T)
        fitted = (sp.P @ M).reshape(G, n, a, T)
        resid = Yc[None, :, None, :] - fitted  # (G, n, a, T)
        if group_index is None:
            h = 1.0 / n + P2 @ C.transpose(1, 2)  # (G, n, a)
            loo = resid / (1.0 - h)[..., None]
            path.append((loo**2).mean(1))  # (G, a, T)
        else:
            path.append(_group_out_sse(sp.P, C, resid, group_index) / n)
    path_mse = torch.cat(path, 1)  # (G, A, T)
    path_mse = torch.where(torch.isfinite(path_mse), path_mse, torch.full_like(path_mse, torch.inf))
    best = path_mse.argmin(1)  # (G, T)
    alpha = alphas_t[best]
    c_best = 1.0 / (sp.lam[:, :, None] + alpha[:, None, :])  # (G, r, T)
    coef = sp.V @ (c_best * PTy)
    loo_mse = torch.gather(path_mse, 1, best[:, None, :])[:, 0, :]
    return RidgeFit(sp, coef, ybar, alpha, loo_mse, path_mse)


def _group_index(groups: np.ndarray | None, n: int) -> list[np.ndarray] | None:
    """Row numbers of the groups, as one (K_m, m) array per group size m; None: one row a group."""
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups must give one group per row ({n}), got shape {groups.shape}")
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if len(counts) < 2:
        raise ValueError("leave-one-group-out needs at least 2 groups, got 1")
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = []
    for m in np.unique(counts):
        sel = np.flatnonzero(counts == m)
        out.append(order[starts[sel][:, None] + np.arange(m)[None, :]])
    return out


def _group_out_sse(
    P: torch.Tensor, C: torch.Tensor, resid: torch.Tensor, group_index: list[np.ndarray]
) -> torch.Tensor:
    """Sum over rows of squared leave-one-group-out residuals ``(I - H_gg)^{-1} e_g``.

    P (G, n, r) training scores, C (G, a, r) = 1/(lam + alpha), resid (G, n, a, T) in-sample
    residuals; returns (G, a, T). A singular ``I - H_gg`` (the group fitted exactly) gives inf.
    """
    G, n, r = P.shape
    a, T = C.shape[1], resid.shape[-1]
    sse = torch.zeros((G, a, T), dtype=torch.float64)
    for idx in group_index:
        K, m = idx.shape
        if m == 1:  # a group of one row: the row-level formula
            rows = torch.from_numpy(idx[:, 0])
            h = 1.0 / n + (P[:, rows] ** 2) @ C.transpose(1, 2)  # (G, K, a)
            sse += ((resid[:, rows] / (1.0 - h)[..., None]) ** 2).sum(1)
            continue
        iu, ju = np.triu_indices(m)
        # chunks of groups keep the pairwise products (G, k, pairs, r) under ~128 MB
        step = max(1, int(2**24 // max(G * len(iu) * max(r, a), 1)))
        for s0 in range(0, K, step):
            blk = torch.from_numpy(idx[s0 : s0 + step])  # (k, m)
            k = blk.shape[0]
            Pg = P[:, blk]  # (G, k, m, r)
            Q = Pg[:, :, iu, :] * Pg[:, :, ju, :]  # (G, k, pairs, r)
            hv = 1.0 / n + Q.reshape(G, -1, r) @ C.transpose(1, 2)  # (G, k*pairs, a)
            hv = hv.reshape(G, k, len(iu), a).permute(0, 3, 1, 2)  # (G, a, k, pairs)
            H = torch.zeros((G, a, k, m, m), dtype=torch.float64)
            H[..., iu, ju] = hv
            H[..., ju, iu] = hv
            A_ = torch.eye(m, dtype=torch.float64) - H
            e = resid[:, blk].permute(0, 3, 1, 2, 4)  # (G, a, k, m, T)
            with _single_thread():
                x, info = torch.linalg.solve_ex(A_, e)
            sq = (x**2).sum(-2)  # (G, a, k, T)
            sq = torch.where((info == 0)[..., None], sq, torch.full_like(sq, torch.inf))
            sse += sq.sum(2)
    return sse


# ------------------------------------------------------------------------------------- logistic
@dataclass
class LogisticFit:
    spectral: Spectral
    z: torch.Tensor  # (G, T, r) coefficients in the spectral basis
    b: torch.Tensor  # (G, T)
    lam: torch.Tensor  # (G, T) chosen L2 strength
    converged: torch.Tensor  # (G, T) bool
    n_iter: int

    def decision(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(G, m, T) logits for new rows."""
        S = self.spectral.transform(X)  # (G, m, r)
        return torch.einsum("gmr,gtr->gmt", S, self.z) + self.b[:, None, :]

    def predict_proba(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decision(X))

    def raw_coef(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Coefficients (G, d, T) and intercepts (G, T) on the unstandardised features."""
        w_std = torch.einsum("gdr,gtr->gdt", self.spectral.V, self.z)
        w = w_std / self.spectral.scale[:, :, None]
        b = self.b - torch.einsum("gd,gdt->gt", self.spectral.mean, w)
        return w, b


NEWTON_MAX_RANK = 160  # below this width, exact Newton steps are cheaper than many MM steps


def _logistic_objective(
    P: torch.Tensor, Yt: torch.Tensor, lams: torch.Tensor, z: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    eta = torch.einsum("gnr,gtlr->gtln", P, z) + b[..., None]
    loss = (torch.nn.functional.softplus(eta) - Yt * eta).mean(-1)
    return loss + 0.5 * lams[None, None, :] * (z**2).sum(-1)


def _logistic_newton(
    sp: Spectral, Y: torch.Tensor, lams: torch.Tensor, max_iter: int, tol: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Damped Newton (step halving until the objective decreases) for small spectral widths."""
    G, n, r = sp.P.shape
    T, L = Y.shape[1], lams.shape[0]
    A = torch.cat([torch.ones((G, n, 1), dtype=torch.float64), sp.P], -1)  # intercept first
    theta = torch.zeros((G, T, L, r + 1), dtype=torch.float64)
    p0 = Y.mean(0).clamp(1e-6, 1 - 1e-6)
    theta[..., 0] = torch.log(p0 / (1 - p0))[None, :, None]
    pen = torch.cat(
        [torch.zeros(1, dtype=torch.float64)[None].expand(L, 1), lams[:, None].expand(L, r)], -1
    )
    Yt = Y.T[None, :, None, :]
    eye = torch.eye(r + 1, dtype=torch.float64)
    converged = torch.zeros((G, T, L), dtype=torch.bool)
    it = 0
    obj = _logistic_objective(sp.P, Yt, lams, theta[..., 1:], theta[..., 0])
    for it in range(1, max_iter + 1):
        eta = torch.einsum("gnr,gtlr->gtln", A, theta)
        p = torch.sigmoid(eta)
        grad = torch.einsum("gnr,gtln->gtlr", A, p - Yt) / n + pen[None, None] * theta
        converged = torch.sqrt((grad**2).sum(-1)) < tol
        if bool(converged.all()):
            break
        w = p * (1 - p) / n
        H = (
            torch.einsum("gnr,gtln,gns->gtlrs", A, w, A)
            + torch.diag_embed(pen)[None, None]
            + 1e-12 * eye
        )
        with _single_thread():
            step = torch.linalg.solve(H, grad[..., None])[..., 0]
        t = torch.ones((G, T, L), dtype=torch.float64)
        for _ in range(30):  # halve each problem's step until its objective does not increase
            cand = theta - t[..., None] * step
            new = _logistic_objective(sp.P, Yt, lams, cand[..., 1:], cand[..., 0])
            worse = new > obj + 1e-15
            if not bool(worse.any()):
                break
            t = torch.where(worse, t / 2, t)
        theta, obj = cand, torch.minimum(new, obj)
    return theta[..., 1:], theta[..., 0], converged, it


def _logistic_mm(
    sp: Spectral, Y: torch.Tensor, lams: torch.Tensor, max_iter: int, tol: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Böhning-bound MM for all (layer, target, lambda): z (G,T,L,r), b (G,T,L), converged."""
    G, n, r = sp.P.shape
    if r <= NEWTON_MAX_RANK:
        return _logistic_newton(sp, Y, lams, min(max_iter, 100), tol)
    T, L = Y.shape[1], lams.shape[0]
    z = torch.zeros((G, T, L, r), dtype=torch.float64)
    p0 = Y.mean(0).clamp(1e-6, 1 - 1e-6)
    b = torch.log(p0 / (1 - p0))[None, :, None].expand(G, T, L).clone()
    curv = sp.lam[:, None, None, :] / (4.0 * n) + lams[None, None, :, None]  # (G,1,L,r)
    Yt = Y.T[None, :, None, :]  # (1, T, 1, n)
    converged = torch.zeros((G, T, L), dtype=torch.bool)
    # Nesterov-accelerated preconditioned steps from the extrapolated point (uz, ub), with the
    # momentum reset wherever the step goes uphill (O'Donoghue & Candes' gradient restart).
    uz, ub = z.clone(), b.clone()
    k = torch.ones((G, T, L), dtype=torch.float64)
    it = 0
    for it in range(1, max_iter + 1):
        eta = torch.einsum("gnr,gtlr->gtln", sp.P, uz) + ub[..., None]
        resid = torch.sigmoid(eta) - Yt  # (G,T,L,n)
        gz = torch.einsum("gnr,gtln->gtlr", sp.P, resid) / n + lams[None, None, :, None] * uz
        gb = resid.mean(-1)
        z_new = uz - gz / curv
        b_new = ub - 4.0 * gb
        gnorm = torch.sqrt((gz**2).sum(-1) + gb**2)
        converged = gnorm < tol
        if bool(converged.all()):
            z, b = uz, ub
            break
        # restart test: gradient at the extrapolated point against the direction of motion
        uphill = ((gz * (z_new - z)).sum(-1) + gb * (b_new - b)) > 0
        k = torch.where(uphill, torch.ones_like(k), k + 1)
        beta = torch.where(uphill, torch.zeros_like(k), (k - 1) / (k + 2))
        uz = z_new + beta[..., None] * (z_new - z)
        ub = b_new + beta * (b_new - b)
        z, b = z_new, b_new
    return z, b, converged, it


def logistic_fit(
    X: np.ndarray | torch.Tensor | Spectral,
    Y: np.ndarray | torch.Tensor,
    lambdas: tuple[float, ...] | list[float] = DEFAULT_LAMBDAS,
    standardize: bool = True,
    *,
    select: str = "holdout",
    holdout: float = 0.2,
    seed: int = 0,
    max_iter: int = 3000,
    tol: float = 1e-6,
    groups: np.ndarray | None = None,
) -> LogisticFit:
    """L2 logistic regression for every (layer, target); ``Y`` holds 0/1 labels.

    With several ``lambdas`` and ``select="holdout"`` the strength is chosen per (layer, target) by
    log-loss on a random ``holdout`` share of the rows (of the groups, where ``groups`` gives each
    row's group: a prompt's rows then fall on one side), then the model is refit on all rows.
    """
    Y = _as_t(Y)
    if Y.ndim == 1:
        Y = Y[:, None]
    if not bool(((Y == 0) | (Y == 1)).all()):
        raise ValueError("logistic probe labels must be 0/1")
    lams_all = torch.as_tensor(list(lambdas), dtype=torch.float64)
    if (lams_all <= 0).any():
        raise ValueError("logistic lambdas must be > 0")
    if isinstance(X, Spectral):
        if len(lambdas) > 1 and select == "holdout":
            raise ValueError("choosing lambda on a holdout needs the raw X, not a Spectral")
        sp_full, Xraw = X, None
    else:
        Xraw = _as_t(X)
        sp_full = spectral(Xraw, standardize)
    G = sp_full.P.shape[0]
    T = Y.shape[1]
    if len(lambdas) > 1 and select == "holdout":
        n = Y.shape[0]
        rng = np.random.default_rng(seed)
        if groups is None:
            perm = rng.permutation(n)
            n_dev = max(1, int(round(holdout * n)))
            dev, tr = np.sort(perm[:n_dev]), np.sort(perm[n_dev:])
        else:
            groups = np.asarray(groups)
            if groups.shape != (n,):
                raise ValueError(f"groups must give one group per row ({n}), got {groups.shape}")
            uniq, inverse = np.unique(groups, return_inverse=True)
            if len(uniq) < 2:
                raise ValueError("a grouped holdout needs at least 2 groups, got 1")
            n_dev = min(len(uniq) - 1, max(1, int(round(holdout * len(uniq)))))
            is_dev = np.isin(inverse, rng.permutation(len(uniq))[:n_dev])
            dev, tr = np.flatnonzero(is_dev), np.flatnonzero(~is_dev)
        sp_tr = spectral(Xraw[:, tr], standardize)
        z, b, _, _ = _logistic_mm(sp_tr, Y[tr], lams_all, max_iter, tol)
        S_dev = sp_tr.transform(Xraw[:, dev])  # (G, m, r)
        eta = torch.einsum("gmr,gtlr->gtlm", S_dev, z) + b[..., None]
        y_dev = Y[dev].T[None, :, None, :]
        loss = (torch.nn.functional.softplus(eta) - y_dev * eta).mean(-1)  # (G,T,L)
        chosen = lams_all[loss.argmin(-1)]  # (G, T)
    elif len(lambdas) == 1:
        chosen = lams_all[:1].expand(G, T).clone()
    else:
        raise ValueError(f"several lambdas need select='holdout', got select={select!r}")
    # refit on all rows: one MM run per distinct chosen lambda, keep each (layer, target)'s own
    z_out = torch.zeros((G, T, sp_full.P.shape[2]), dtype=torch.float64)
    b_out = torch.zeros((G, T), dtype=torch.float64)
    conv = torch.zeros((G, T), dtype=torch.bool)
    n_iter = 0
    uniq = torch.unique(chosen)
    z, b, c, n_iter = _logistic_mm(sp_full, Y, uniq, max_iter, tol)
    for j, lam in enumerate(uniq):
        m = chosen == lam
        z_out[m] = z[:, :, j][m]
        b_out[m] = b[:, :, j][m]
        conv[m] = c[:, :, j][m]
    return LogisticFit(sp_full, z_out, b_out, chosen, conv, n_iter)


# -------------------------------------------------------------------------------------- metrics
def pearson_r(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson r along the row axis: pred (..., m, T), y (m, T) -> (..., T); 0 where a side
    is constant."""
    y = _as_t(y)
    if y.ndim == 1:
        y = y[:, None]
    pc = pred - pred.mean(-2, keepdim=True)
    yc = y - y.mean(0)
    num = (pc * yc).sum(-2)
    den = torch.sqrt((pc**2).sum(-2) * (yc**2).sum(0))
    return torch.where(
        den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(num)
    )


def r2_score(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Coefficient of determination 1 - SSE/SST (SST about the test mean, as scikit-learn)."""
    y = _as_t(y)
    if y.ndim == 1:
        y = y[:, None]
    sse = ((y - pred) ** 2).sum(-2)
    sst = ((y - y.mean(0)) ** 2).sum(0)
    return torch.where(
        sst > 0,
        1 - sse / torch.where(sst > 0, sst, torch.ones_like(sst)),
        torch.full_like(sse, float("nan")),
    )


def roc_auc(score: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Area under the ROC curve (Mann-Whitney, ties counted 1/2): score (..., m, T),
    y (m, T) 0/1."""
    from scipy.stats import rankdata

    y = _as_t(y)
    if y.ndim == 1:
        y = y[:, None]
    ranks = torch.from_numpy(rankdata(score.numpy(), axis=-2))
    pos = y.sum(0)
    neg = y.shape[0] - pos
    rank_pos = (ranks * y).sum(-2)
    auc = (rank_pos - pos * (pos + 1) / 2) / (pos * neg)
    return torch.where((pos > 0) & (neg > 0), auc, torch.full_like(auc, float("nan")))
