r"""The one Sinkhorn loop of the package: balanced entropic OT on a cost matrix.

We solve, for a cost matrix ``C`` (N, M) and weights ``a`` (N,), ``b`` (M,) of equal mass,

    min_P  <P, C> + eps * KL(P ‖ a⊗b)   subject to  P 1 = a,  Pᵀ 1 = b,          (E)

whose solution has the form ``P = a bᵀ ∘ exp((f ⊕ g − C) / eps)`` for dual potentials f, g in
cost units (GeomLoss's convention: no ``eps log a`` inside f). Sinkhorn's algorithm alternates
the two block-coordinate ascent steps of the dual (Cuturi 2013; Peyré & Cuturi 2019, Rem. 4.22):

    g_j ← −eps · LSE_i( log a_i + (f_i − C_ij) / eps )        (column update, "v-step")
    f_i ← −eps · LSE_j( log b_j + (g_j − C_ij) / eps )        (row update,    "u-step")

One *iteration* is one column then one row update from f = g = 0, in the order of the paper's
Algorithm 1 and of POT's ``sinkhorn_log``: L iterations here are L iterations there.

How the loop is made fast without losing log-domain stability (Schmitzer 2019, "absorption"):
the potentials are absorbed into a stabilised kernel ``K = exp((f ⊕ g − C)/eps)`` (one ``exp``
pass), after which the updates above are exactly the scaling updates ``u ← 1 / K(b∘v)``,
``v ← 1 / Kᵀ(a∘u)``: two matrix-vector products and no ``exp`` per iteration, with
``f = f_K + eps log u`` and ``g = g_K + eps log v``. The iterations run in blocks of
``check_every``; after a block the scalings are absorbed (and K rebuilt) only if they have
drifted far from 1. If a block's scalings overflowed or drifted so far that entries of K which
underflowed when it was built could matter (small eps, early iterations), the block is
discarded and redone with the exact log-sum-exp updates, so the result is that of log-domain
Sinkhorn in every case; only the speed differs.

The unrolled gradient (``grad="unrolled"``, the paper's) is the gradient through every iteration;
the scaling iterations compute it with their exact adjoint (:class:`_ScalingIterations`) rather
than by recording each operation for autograd, which at the paper's batch of 128 made the whole
Sinkhorn term cheaper than the autoencoder it trains.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import torch
from torch import Tensor

from .costs import NonFiniteError

__all__ = ["sinkhorn", "SinkhornResult", "ConvergenceWarning", "round_plan", "iteration_budget"]

# What a caller gets who names neither ``max_iter`` nor ``tol``: iterate to a tolerance, and warn at
# the cap (POT's ``sinkhorn`` stops at 1000 iterations too). The paper's fixed L is asked for by
# naming ``max_iter`` alone, as SAE's configuration does.
DEFAULT_TOL = 1e-5
DEFAULT_MAX_ITER = 1000


def iteration_budget(max_iter: int | None, tol: float | None) -> tuple[int, float | None]:
    """(max_iter, tol) as the solver runs them: neither given, iterate to ``DEFAULT_TOL`` within
    ``DEFAULT_MAX_ITER``; ``tol`` alone, to it within ``DEFAULT_MAX_ITER``; ``max_iter`` alone,
    exactly that many iterations (a fixed L, no tolerance); both, as given."""
    if max_iter is None:
        return DEFAULT_MAX_ITER, DEFAULT_TOL if tol is None else tol
    return max_iter, tol


class ConvergenceWarning(UserWarning):
    """Sinkhorn stopped at ``max_iter`` before its marginal error fell below ``tol``.

    Raised as a warning by :func:`sinkhorn` (and so by the divergences built on it) whenever a
    tolerance is in force: one the caller gave, or the default one when neither ``max_iter`` nor
    ``tol`` was given. A fixed ``max_iter`` alone never warns. The result is returned all the same, with ``converged = False``. Turn
    it into an error with ``warnings.simplefilter("error", sae.ConvergenceWarning)``.
    """


@dataclass(frozen=True, eq=False)
class SinkhornResult:
    r"""Solution of entropic OT (E), as :func:`sinkhorn` returns it: ``P = a bᵀ ∘ exp((f ⊕ g − C)/eps)``.

    Shapes:
        N source points, M target points, optional leading batch B.

    Attributes:
        f: (…, N) tensor, the row potential, in cost units.
        g: (…, M) tensor, the column potential, in cost units.
        C: (…, N, M) tensor, the cost matrix solved (``a`` (…, N), ``b`` (…, M) and ``eps`` complete the problem).
        n_iter: iterations run (an int).
        errors: (n_checks, …) tensor, the marginal error ‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁ after each block.
        converged: True or False, the error fell below ``tol``; None when no ``tol`` was asked for.
        grad: ``"unrolled"`` or ``"envelope"``, how gradients reach C, a, b.
        tol: the tolerance asked for, or None.
    """

    f: Tensor
    g: Tensor
    C: Tensor
    a: Tensor
    b: Tensor
    eps: float
    n_iter: int
    errors: Tensor
    converged: bool | None
    grad: str
    _plan: Tensor | None = field(default=None, repr=False)
    tol: float | None = None

    def select(self, index) -> "SinkhornResult":
        """Problem ``index`` of a batched result (an int drops the batch axis, a slice keeps it):
        the same solution, as views, with its own ``converged``."""
        if self.C.dim() != 3:
            raise ValueError(f"select needs a batched result (C of shape (B, N, M)), got C {tuple(self.C.shape)}")
        errors = self.errors[:, index]
        converged = None if self.tol is None else bool((errors[-1] < self.tol).all())
        return SinkhornResult(f=self.f[index], g=self.g[index], C=self.C[index], a=self.a[index], b=self.b[index],
                              eps=self.eps, n_iter=self.n_iter, errors=errors, converged=converged, grad=self.grad,
                              _plan=self.plan[index], tol=self.tol)

    @cached_property
    def plan(self) -> Tensor:
        """(…, N, M) transport plan. Detached under ``grad="envelope"``."""
        return self._plan if self._plan is not None else _plan(self.f, self.g, self.C, self.a, self.b, self.eps)

    def marginals(self) -> tuple[Tensor, Tensor]:
        """Row and column sums of the plan, to compare with ``a`` and ``b``."""
        return self.plan.sum(-1), self.plan.sum(-2)

    @property
    def marginal_error(self) -> Tensor:
        """‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁ of the returned plan (per batch element)."""
        r, c = self.marginals()
        return (r - self.a).abs().sum(-1) + (c - self.b).abs().sum(-1)

    @cached_property
    def cost(self) -> Tensor:
        """The paper's "sharp" Sinkhorn cost ⟨P, C⟩ (…,); POT's ``sinkhorn2`` and ``value_linear``.

        Under ``grad="envelope"`` the plan is held fixed, so ∂cost/∂C = P.
        """
        return (self.plan * self.C).sum((-2, -1))

    @cached_property
    def value(self) -> Tensor:
        """The regularised value ⟨P, C⟩ + eps·KL(P ‖ a⊗b) (…,); POT's ``ot.solve(...).value``.

        Uses KL = ⟨P, (f ⊕ g − C)/eps⟩, exact because log(P/ab) = (f ⊕ g − C)/eps and the
        plan's total mass equals that of a⊗b after a row update.
        Under ``grad="envelope"``: ∂value/∂C = P, ∂value/∂a = f, ∂value/∂b = g (envelope theorem).
        """
        P = self.plan
        v = (P * (self.f.unsqueeze(-1) + self.g.unsqueeze(-2))).sum((-2, -1))
        if self.grad == "unrolled":
            return v
        return _EnvelopeValue.apply(v.detach(), self.C, self.a, self.b, P, self.f, self.g)

    @property
    def dual_value(self) -> Tensor:
        """⟨a, f⟩ + ⟨b, g⟩; equals ``value`` at convergence."""
        return (self.a * self.f).sum(-1) + (self.b * self.g).sum(-1)


class _EnvelopeValue(torch.autograd.Function):
    """Attach the envelope-theorem gradient to a value computed without a graph.

    The regularised value is stationary in the potentials (f, g), so its total derivative is the
    partial one: ∂value/∂C = P, ∂value/∂a = f, ∂value/∂b = g. No pass over C in the forward.
    """

    @staticmethod
    def forward(ctx, value, C, a, b, P, f, g):
        ctx.save_for_backward(P, f, g)
        return value.clone()

    @staticmethod
    def backward(ctx, grad):
        P, f, g = ctx.saved_tensors
        gC = ga = gb = None
        if ctx.needs_input_grad[1]:
            gC = P * grad.unsqueeze(-1).unsqueeze(-1) if grad.dim() else P * grad
        if ctx.needs_input_grad[2]:
            ga = f * grad.unsqueeze(-1)
        if ctx.needs_input_grad[3]:
            gb = g * grad.unsqueeze(-1)
        return None, gC, ga, gb, None, None, None


def _weights(w: Tensor | None, n: int, name: str, like: Tensor) -> Tensor:
    if w is None:
        return torch.full(like.shape[:-2] + (n,), 1.0 / n, dtype=like.dtype, device=like.device)
    if not isinstance(w, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor or None, got {type(w).__name__}")
    if w.shape[-1:] != (n,) or w.dim() > like.dim() - 1 or (w.dim() == 2 and w.shape[0] != like.shape[0]):
        raise ValueError(f"{name} has shape {tuple(w.shape)} but the cost matrix {tuple(like.shape)} needs ({n},)"
                         + (f" or ({like.shape[0]}, {n})" if like.dim() == 3 else ""))
    if not torch.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"{name} must be finite and nonnegative")
    if (w.sum(-1) <= 0).any():
        raise ValueError(f"{name} must have positive total mass")
    return w.to(like.dtype).expand(like.shape[:-2] + (n,))


def _all_finite(t: Tensor) -> bool:
    """Whether every entry of t is finite, in one pass when it is: a sum is finite only if every
    term is (a NaN or ±inf entry makes it NaN or ±inf), and a sum that is not, which finite
    entries can also give by overflowing, is settled entry by entry. (``isfinite(t).all()``
    alone is four passes over t: at n = 1024 it cost 7% of a 100-iteration solve.)"""
    t = t.detach()
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def _check(C: Tensor, eps: float, max_iter: int, tol: float | None, check_every: int, grad: str) -> None:
    if not isinstance(C, Tensor):
        raise ValueError(f"C must be a torch.Tensor, got {type(C).__name__}")
    if C.dim() not in (2, 3):
        raise ValueError(f"C must have shape (N, M) or (B, N, M), got {tuple(C.shape)}")
    if C.numel() == 0:
        raise ValueError(f"C is empty: shape {tuple(C.shape)}")
    if not C.is_floating_point():
        raise ValueError(f"C must be a floating-point tensor, got {C.dtype}")
    if not _all_finite(C):
        raise NonFiniteError("C contains NaN or infinite entries")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not (isinstance(check_every, int) and check_every >= 1):
        raise ValueError(f"check_every must be a positive integer, got {check_every!r}")
    if tol is not None and not (tol > 0):
        raise ValueError(f"tol must be positive or None, got {tol!r}")
    if grad not in ("unrolled", "envelope"):
        raise ValueError(f"grad must be 'unrolled' or 'envelope', got {grad!r}")


def sinkhorn(
    C: Tensor,
    a: Tensor | None = None,
    b: Tensor | None = None,
    *,
    eps: float,
    max_iter: int | None = None,
    tol: float | None = None,
    check_every: int = 10,
    grad: Literal["unrolled", "envelope"] = "unrolled",
    init: tuple[Tensor, Tensor] | None = None,
) -> SinkhornResult:
    r"""Entropic optimal transport (E) by log-stabilised Sinkhorn iterations.

    Solves ``min_P ⟨P, C⟩ + ε KL(P ‖ a⊗b)`` over plans with marginals a and b, one problem or a
    batch of B independent ones, on whatever device ``C`` lives. L iterations here are the L
    column-then-row updates of POT's ``sinkhorn_log`` and of the paper's Algorithm 1.

    Args:
        C ((N, M) or (B, N, M) Tensor): cost matrix, finite.
        a ((N,) or (B, N) Tensor, optional): source weights, nonnegative (zeros allowed); uniform if None.
        b ((M,) or (B, M) Tensor, optional): target weights with the same total mass as ``a``.
        eps (float): absolute regularisation ε (POT's ``reg``; GeomLoss's ``blur**p``).
        max_iter (int, optional): iteration budget. Given alone (no ``tol``): exactly that many
            iterations, a fixed computation graph, the paper's fixed L.
        tol (float, optional): stop once ‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁ < tol (checked every
            ``check_every`` iterations) and warn if it never is. With neither ``max_iter`` nor
            ``tol`` the default is to converge: ``tol = 1e-5`` within 1000 iterations
            (``iteration_budget``).
        check_every (int): block length: the marginal error is checked this often, and the kernel
            re-stabilised then if the scalings have drifted.
        grad (str): ``"unrolled"`` backpropagates through every iteration (the paper's choice);
            ``"envelope"`` runs the loop without a graph and attaches ∂value/∂C = P at the end
            (cheaper in time and memory; exact for ``value``, plan held fixed for ``cost``).
        init ((f, g), optional): warm-start potentials in cost units.

    Returns:
        SinkhornResult: ``plan`` (…, N, M), ``cost`` (the sharp ⟨P, C⟩), ``value`` (with ε KL),
        potentials ``f``, ``g``, marginal ``errors`` per check and ``converged``.

    Raises:
        ValueError: a cost matrix that is not a finite floating-point (N, M) or (B, N, M) tensor;
            weights of the wrong shape, negative, or of unequal mass; a non-positive ``eps``,
            ``max_iter``, ``check_every`` or ``tol``; an unknown ``grad``. The message names it.

    Warns:
        ConvergenceWarning: a tolerance was in force (given, or the default) and not reached.

    References:
        Cuturi (2013), *Sinkhorn distances: lightspeed computation of optimal transport*;
        Peyré & Cuturi (2019), *Computational Optimal Transport*, §4.2 and Remark 4.22;
        Schmitzer (2019), *Stabilized sparse scaling algorithms for entropy regularized transport
        problems* (absorption).

    Example:
        >>> C = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
        >>> round(sinkhorn(C, eps=0.01).cost.item(), 6)
        0.0
    """
    max_iter, tol = iteration_budget(max_iter, tol)
    _check(C, eps, max_iter, tol, check_every, grad)
    N, M = C.shape[-2:]
    a = _weights(a, N, "a", C)
    b = _weights(b, M, "b", C)
    mass_a, mass_b = a.sum(-1), b.sum(-1)
    if not torch.allclose(mass_a, mass_b, rtol=1e-5, atol=0):
        raise ValueError(f"a and b must have the same total mass (balanced OT), got {mass_a.tolist()} and {mass_b.tolist()}")
    eps = float(eps)

    with torch.set_grad_enabled(torch.is_grad_enabled() and grad == "unrolled"):
        Cl = C if grad == "unrolled" else C.detach()
        al = a if grad == "unrolled" else a.detach()
        bl = b if grad == "unrolled" else b.detach()
        alpha, beta, errors, n_iter, P = _iterate(Cl, al, bl, eps, max_iter, tol, check_every, init)

    err = errors[-1]
    converged = None if tol is None else bool((err < tol).all())
    if tol is not None and not converged:
        warnings.warn(
            f"Sinkhorn did not converge in max_iter={max_iter} iterations (marginal error "
            f"{err.max().item():.2e} > tol={tol:.1e}); increase max_iter or eps (eps={eps:.3g}).",
            ConvergenceWarning, stacklevel=2)
    f, g = eps * alpha, eps * beta
    if grad == "envelope":
        f, g = f.detach(), g.detach()
        P = _plan(f, g, C.detach(), a.detach(), b.detach(), eps) if P is None else P.detach()
    return SinkhornResult(f=f, g=g, C=C, a=a, b=b, eps=eps, n_iter=n_iter, errors=errors,
                          converged=converged, grad=grad, _plan=P, tol=tol)


def _iterate(C, a, b, eps, max_iter, tol, check_every, init):
    """Run the blocks. Returns dimensionless potentials (f/eps, g/eps), errors, n_iter, plan.

    State: absorbed potentials (alpha, beta) = (f, g)/eps, the kernel K = exp(alpha ⊕ beta − C/eps)
    built at the last absorption (kept as A = diag(a) K and Bt = (K diag(b))ᵀ, the weights folded
    in once per kernel), and scalings (u, v) relative to K, so that the current
    potentials are alpha + log u, beta + log v. K is rebuilt (one exp pass) only when the
    scalings have drifted past ``absorb_at``; at moderate eps that happens a few times per solve.
    """
    Ce = C / eps                                              # (…, N, M), reused by every block
    log_a, log_b = torch.log(a), torch.log(b)                 # −inf where a weight is 0: LSE skips it
    if init is not None:
        alpha, beta = init[0].to(C.dtype) / eps, init[1].to(C.dtype) / eps
    else:                                                     # u = 1, v = 1 as in Algorithm 1 and POT
        alpha, beta = torch.zeros_like(a), torch.zeros_like(b)
    # Past this drift of log u or log v, kernel entries that underflowed when K was built could
    # have become significant: such a block is redone in the log domain. Absorb well before it.
    drift = 0.5 * -math.log(torch.finfo(C.dtype).tiny) - 10.0
    absorb_at = 0.5 * drift
    errors, n_iter = [], 0
    A = Bt = u = v = None
    while n_iter < max_iter:
        k = min(check_every, max_iter - n_iter)
        if A is None:
            K = (alpha.unsqueeze(-1) + beta.unsqueeze(-2)).sub_(Ce).exp_()   # (…, N, M), no temporaries
            A, Bt = a.unsqueeze(-1) * K, (K * b.unsqueeze(-2)).transpose(-1, -2)   # weights folded in
            u, v = torch.ones_like(a), torch.ones_like(b)
        u1, v1, err = _scaling_block(A, Bt, b, u, k)
        log_u, log_v = torch.log(u1), torch.log(v1)
        worst = torch.maximum(log_u.abs().amax(), log_v.abs().amax())
        if not bool(worst < drift):                           # also catches inf and NaN
            alpha, beta = alpha + torch.log(u), beta + torch.log(v)
            alpha, beta, err = _log_block(Ce, log_a, log_b, alpha, beta, k)
            A = None
        elif bool(worst > absorb_at):
            alpha, beta, A = alpha + log_u, beta + log_v, None
        else:
            u, v = u1, v1
        n_iter += k
        errors.append(err)
        if tol is not None and bool((err < tol).all()):
            break
    P = None
    if A is not None:
        P = u.unsqueeze(-1) * A * (b * v).unsqueeze(-2)       # diag(a∘u) K diag(b∘v)
        alpha, beta = alpha + torch.log(u), beta + torch.log(v)
    return alpha, beta, torch.stack(errors), n_iter, P


def _scaling_block(A, Bt, b, u, k):
    """k iterations as matrix-vector products on the fixed kernel; returns u, v, marginal error.

    Algorithm 1 of the ICLR paper, lines "v ← 1/(Kᵀu)", "u ← 1/(Kv)", with the weights folded into
    two copies of the kernel, ``A = diag(a) K`` and ``Bt = (K diag(b))ᵀ``, so that an iteration is
    two products of a row vector with a matrix and two reciprocals (see :func:`_scale`). When a
    graph is being built the iterations run inside :class:`_ScalingIterations`, whose backward is
    their exact adjoint: the unrolled gradient, without recording autograd nodes per iteration
    (autograd differentiates the folding). The error only steers the loop: no graph.
    """
    u_row = u.unsqueeze(-2)
    if torch.is_grad_enabled() and (A.requires_grad or Bt.requires_grad or u_row.requires_grad):
        u_row, v_row = _ScalingIterations.apply(A, Bt, u_row, k)
    else:
        u_row, v_row = _scale(A, Bt, u_row, k)
    with torch.no_grad():
        cols = v_row * _mm(u_row, A) * b.unsqueeze(-2)            # Pᵀ1; rows are exact after the u-step
    return u_row.squeeze(-2), v_row.squeeze(-2), (cols.squeeze(-2) - b).abs().sum(-1)


def _mm(x: Tensor, y: Tensor) -> Tensor:
    """x @ y without ``matmul``'s shape dispatch: ``bmm`` for (B, ·, ·), ``mm`` for (·, ·).

    At the paper's sizes (three 128x128 problems, 50 iterations) the dispatch of ``@`` and of
    ``1.0 / x`` cost more than their arithmetic; calling the kernels directly halved the loop."""
    return torch.bmm(x, y) if x.dim() == 3 else torch.mm(x, y)


def _scale(A, Bt, u, k):
    """The plain loop: k ≥ 1 column-then-row scaling updates on the row vector u (…, 1, N), with
    A = diag(a) K (…, N, M) and Bt = (K diag(b))ᵀ (…, M, N)."""
    mm, rec = (torch.bmm if A.dim() == 3 else torch.mm), torch.reciprocal
    for _ in range(k):
        v = rec(mm(u, A))                                         # column update: g = eps (beta + log v)
        u = rec(mm(v, Bt))                                        # row update:    f = eps (alpha + log u)
    return u, v


class _ScalingIterations(torch.autograd.Function):
    """k scaling iterations v_i = 1/(u_{i−1} A), u_i = 1/(v_i Bt) on row vectors, with their
    adjoint as backward.

    From the last iteration back, with p_i = ū_i∘u_i² and q_i = (p_i Btᵀ − v̄ᵒᵘᵗ)∘v_i² (the output's
    gradient v̄ᵒᵘᵗ only at i = k): ū_{i−1} = q_i Aᵀ; and Ā = Σ_i u_{i−1}ᵀ q_i, B̄t = −Σ_i v_iᵀ p_i,
    two matrix products over the stacked iterates at the end. Four operations per iteration,
    exactly the gradient autograd takes through :func:`_scale` (tests/test_sinkhorn_grad.py checks
    it, and gradcheck), without autograd's bookkeeping for every iteration.
    """

    @staticmethod
    def forward(ctx, A, Bt, u, k):
        mm, rec = (torch.bmm if A.dim() == 3 else torch.mm), torch.reciprocal
        us, vs = [u], []
        for _ in range(k):
            v = rec(mm(u, A))
            u = rec(mm(v, Bt))
            vs.append(v)
            us.append(u)
        ctx.save_for_backward(A, Bt, torch.stack(us), torch.stack(vs))    # (k+1, …, 1, N), (k, …, 1, M)
        return u, v

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gu, gv):
        A, Bt, U, V = ctx.saved_tensors
        k = V.shape[0]
        mm = torch.bmm if A.dim() == 3 else torch.mm
        At, B = A.transpose(-1, -2), Bt.transpose(-1, -2)
        u2, v2 = (U[1:] * U[1:]).unbind(0), (V * V).unbind(0)
        u_bar, ps, qs = gu, [None] * k, [None] * k
        for i in range(k - 1, -1, -1):
            p = u_bar * u2[i]                                      # −(gradient of t_i = v_i Bt)
            w = mm(p, B)
            if i == k - 1:
                w = w - gv
            q = w * v2[i]                                          # gradient of s_i = u_{i−1} A
            u_bar = mm(q, At)
            ps[i], qs[i] = p, q
        A_bar = B_bar = None
        if ctx.needs_input_grad[0]:                                # Σ_i u_{i−1}ᵀ q_i
            A_bar = mm(_columns(U[:-1]), torch.cat(qs, -2))
        if ctx.needs_input_grad[1]:                                # −Σ_i v_iᵀ p_i
            B_bar = mm(_columns(V), torch.cat(ps, -2)).neg_()
        return A_bar, B_bar, u_bar, None


def _columns(rows: Tensor) -> Tensor:
    """Stacked row vectors (k, …, 1, N) as the columns of one matrix (…, N, k)."""
    return rows.squeeze(-2).movedim(0, -1)


def _log_block(Ce, log_a, log_b, alpha, beta, k):
    """k iterations of the exact log-sum-exp updates (the stable fallback)."""
    for _ in range(k):
        beta = -torch.logsumexp(log_a.unsqueeze(-1) + alpha.unsqueeze(-1) - Ce, dim=-2)
        alpha = -torch.logsumexp(log_b.unsqueeze(-2) + beta.unsqueeze(-2) - Ce, dim=-1)
    log_cols = log_b + beta + torch.logsumexp(log_a.unsqueeze(-1) + alpha.unsqueeze(-1) - Ce, dim=-2)
    err = (torch.exp(log_cols) - torch.exp(log_b)).abs().sum(-1)
    return alpha, beta, err


def _plan(f, g, C, a, b, eps):
    """Equation (E)'s solution form P = a bᵀ ∘ exp((f ⊕ g − C)/eps)."""
    return a.unsqueeze(-1) * torch.exp((f.unsqueeze(-1) + g.unsqueeze(-2) - C) / eps) * b.unsqueeze(-2)


def round_plan(P: Tensor, a: Tensor, b: Tensor) -> Tensor:
    r"""Round an approximate plan onto the transport polytope U(a, b).

    Altschuler, Weed & Rigollet (2017), Algorithm 2, the rounding the UAI version of the paper
    applies after its Sinkhorn iterations: scale rows down to at most ``a``, columns down to at
    most ``b``, then add the rank-one correction ``err_a err_bᵀ / ‖err_a‖₁``. The output has
    marginals exactly ``a`` and ``b`` (up to rounding) and ‖out − P‖₁ ≤ 2(‖P1 − a‖₁ + ‖Pᵀ1 − b‖₁).

    Args:
        P ((…, N, M) Tensor): nonnegative plan, e.g. :attr:`SinkhornResult.plan`.
        a ((…, N) Tensor): target row marginal.
        b ((…, M) Tensor): target column marginal, of the same mass as ``a``.

    Returns:
        (…, N, M) Tensor: a plan with row sums ``a`` and column sums ``b``.

    Raises:
        ValueError: shapes that do not match, or a plan with negative or non-finite entries.

    References:
        Altschuler, Weed & Rigollet (2017), *Near-linear time approximation algorithms for optimal
        transport via Sinkhorn iteration*, Algorithm 2.

    Example:
        >>> P = torch.tensor([[0.3, 0.1], [0.1, 0.3]])
        >>> round_plan(P, torch.tensor([0.5, 0.5]), torch.tensor([0.5, 0.5])).sum(0)
        tensor([0.5000, 0.5000])
    """
    if P.dim() < 2 or P.shape[-2:] != (a.shape[-1], b.shape[-1]):
        raise ValueError(f"P has shape {tuple(P.shape)} but a and b need (…, {a.shape[-1]}, {b.shape[-1]})")
    if (P < 0).any() or not torch.isfinite(P).all():
        raise ValueError("P must be finite and nonnegative")
    tiny = torch.finfo(P.dtype).tiny
    x = torch.clamp(a / P.sum(-1).clamp_min(tiny), max=1.0)
    F = x.unsqueeze(-1) * P
    y = torch.clamp(b / F.sum(-2).clamp_min(tiny), max=1.0)
    F = F * y.unsqueeze(-2)
    # the deficits are ≥ 0 in exact arithmetic (rows and columns were only scaled down); rounding
    # can leave −1e-21, which the rank-one correction would turn into negative entries
    err_a = (a - F.sum(-1)).clamp_min(0)
    err_b = (b - F.sum(-2)).clamp_min(0)
    norm = err_a.abs().sum(-1, keepdim=True).clamp_min(tiny)
    return F + err_a.unsqueeze(-1) * err_b.unsqueeze(-2) / norm.unsqueeze(-1)
