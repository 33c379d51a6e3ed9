# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 — The law of parsimony in deep linear networks
#
# **Paper.** Can Yaras, Peng Wang, Wei Hu, Zhihui Zhu, Laura Balzano, Qing Qu, *The Law of
# Parsimony in Gradient Descent for Learning Deep Linear Networks*, arXiv:2306.01154 (2023).
# Official code: `cjyaras/law-of-parsimony` (commit `c549925`).
#
# **What the paper claims** (abstract; tagged **[paper]** below):
# 1. trained by gradient descent from an orthogonal initialisation on low-rank whitened data, every
#    weight matrix of a deep linear network changes only inside a small part of its singular
#    spaces; the rest stays invariant along the whole trajectory;
# 2. hence a much smaller network with the same trajectory can be built and trained far more
#    cheaply;
# 3. across layers, classes separate progressively, at a constant (log-linear) rate.
#
# **What is our reconstruction** (tagged **[ours]**). Only the abstract and the official code
# were available to us, not the theorems. The exact statement checked here — a $2r\times 2r$
# block plus a scalar complement $\rho(t)I$, the compressed chain on $\tilde\Phi$, the loss split,
# the rate $\varepsilon^2 n^{-1/L}$ of feature separation, and every sympy derivation — is our
# reconstruction, *consistent with the abstract and the official code*, not a quotation of the
# paper. The claims table says for every line where it comes from.
#
# **Conventions.** Sum loss $\ell = \tfrac12\|W_L\cdots W_1X - Y\|_F^2$ (the official code uses a
# mean; a repo step $s$ on $k$ entries is our $\eta = s/k$). Whitened data ($XX^\top = I$) reduce
# to $\ell = \tfrac12\|W_{L:1}-\Phi\|_F^2 + \text{const}$ with $\Phi = YX^\top$ of rank $r$.
# Init $W_l(0) = \varepsilon O_l$ with Haar-orthogonal $O_l$ (sign-fixed QR). Float64 throughout.

# %% tags=["parameters"]
import time

import numpy as np
import sympy as sp
import matplotlib.pyplot as plt
from IPython.display import Math, display

from theory import config, linalg, plotting
from theory import deep_linear as dl
from theory.claims import Ledger
from theory.symbolic import deep_linear as sdl

SEED = config.SEED
NOTEBOOK = "01_law_of_parsimony"
# C1-C3 (spec section 4): d = 20, r = 2, L = 3, eps = 0.3, eta = 0.02, T = 4000
C1 = dict(d=20, r=2, L=3, eps=0.3, eta=0.02, steps=4000, stride=200, s=(3.0, 1.5))
# E1 (repo-style spectrum figure): d = 30, rank-3 Gaussian target, eps = 1, eta = 1/900, 50 steps
E1 = dict(d=30, r=3, L=3, eps=1.0, eta=1 / 900, steps=50)
# C4: balancedness at fixed physical time eta t = 40
C4 = dict(d=12, r=2, L=3, eps=0.3, time=40.0, etas=(0.04, 0.02, 0.01))
# C5: complement scalar at eta t = 200; scalar L = 2 logistic at flow time 3
C5 = dict(L=3, eps=0.3, time=200.0, etas=(0.1, 0.05, 0.025))
C5_SCALAR = dict(phi=2.0, eps=0.1, time=3.0, etas=(1e-3, 5e-4))
# C6: E8 data, runs (L, eps, eta)
C6 = dict(K=5, n=10, runs=((4, 0.5, 0.05), (4, 0.25, 0.05), (6, 0.5, 0.01), (8, 0.5, 0.01)),
          tol=1e-6, max_steps=100_000)
# C7: matrix completion, depth 2 vs 3
C7 = dict(d=40, r=3, fraction=0.35, eps=1e-3, eta=0.01, max_steps=60_000, mean_tol=1e-10,
          seeds=(0, 1, 2))
# Paper-scale runs (section 10): quick mode shrinks them, THEORY_FULL=1 runs the authors' sizes
EQUIV = config.pick(quick=dict(d=64, r=4, eps=1e-2, eta=5e-3, tol=1e-10, max_steps=100_000,
                               stride=100),
                    full=dict(d=1000, r=10, eps=1e-3, eta=1e-3, tol=1e-10, max_steps=1_000_000,
                              stride=2000))
MC = config.pick(quick=dict(d=40, r=3, fraction=0.35, eps=1e-2, eta=1e-2, gamma=0.01,
                            max_steps=30_000, mean_tol=1e-10),
                 full=dict(d=1000, r=5, fraction=0.2, eps=1e-3, eta=5e-3, gamma=0.01,
                           max_steps=170_000, mean_tol=1e-9))
DEPTH = dict(d=100, r=10, fraction=0.3, eps=1e-3, etas={2: 1e-2, 3: 3e-2}, trials=5,
             max_steps=60_000, mean_tol=1e-10)

# %%
rng = np.random.default_rng(SEED)
plotting.use_style()
sp.init_printing(use_latex="mathjax")
ledger = Ledger("Law of parsimony (Yaras et al., arXiv:2306.01154)", seed=SEED)
t_start = time.perf_counter()


def gaussian_low_rank(d, r, rng):
    """The repo's target: a d x d Gaussian matrix truncated to its top r singular triplets."""
    U, s, Vt = np.linalg.svd(rng.standard_normal((d, d)))
    return (U[:, :r] * s[:r]) @ Vt[:r]


# %% [markdown]
# ## 1. Gradients in one pass — derivation [ours]
#
# For $\ell = \tfrac12\|W_{L:1}-\Phi\|_F^2$ the gradient of layer $l$ is
# $G_l = W_{L:l+1}^\top E\, W_{l-1:1}^\top$ with $E = W_{L:1}-\Phi$. `theory.deep_linear`
# computes all $L$ of them with prefix products forward and $A_{l-1} = W_l^\top A_l$ backward
# ($3(L-1)$ matrix products). Sympy differentiates $\tfrac12\sum_{ij}(W_3W_2W_1-\Phi)_{ij}^2$
# entrywise for $2\times2$ symbol matrices and compares with the closed form:

# %%
Ws, Phi_sym = sdl.chain(3, 2)
closed = sdl.layer_gradients(Ws, Phi_sym)
display(Math(r"G_1 = (W_3W_2)^\top E,\quad G_2 = W_3^\top E\, W_1^\top,\quad "
             r"G_3 = E\,(W_2W_1)^\top,\qquad E = W_3W_2W_1-\Phi"))
n_terms = len(sp.Add.make_args(sp.expand(closed[1][0, 0])))
print(f"(G_2)_11 expands to a polynomial of {n_terms} terms in the 12 weight and 4 target symbols")
discrepancy = sdl.gradient_discrepancy(3, 2)
grad_ok = all(entry == 0 for M in discrepancy for entry in M)
print("autodiff - closed form, expanded, all layers zero:", grad_ok)
ledger.check("S1", "Layer gradients G_l = W_{L:l+1}^T E W_{l-1:1}^T equal the entrywise "
             "derivative of the loss (sympy, L = 3, 2x2)", grad_ok, True, relation="true",
             source="derived here (sympy)")

# %% [markdown]
# ## 2. Exact invariant block — C1 [paper claim 1; exact form ours]
#
# **Statement [ours].** Let $O = O_L\cdots O_1$, $\Phi = U_\Phi\Sigma V_\Phi^\top$ and
# $S = \operatorname{span}(V_\Phi) + \operatorname{span}(O^\top U_\Phi)$ ($\dim S = 2r$ for generic
# $O$). Take $V_1 = [V_{1,1}\,|\,V_{1,2}]$ with $\operatorname{range}V_{1,1} = S$ and chain
# $U_l = O_lV_l$, $V_{l+1} = U_l$. Then for every GD step $t$
# $$W_l(t) = U_l\begin{pmatrix}\tilde W_l(t) & 0\\ 0 & \rho(t) I_{d-2r}\end{pmatrix}V_l^\top,\qquad
# \rho(t+1) = \rho(t)\bigl(1-\eta\rho(t)^{2L-2}\bigr),\ \rho(0)=\varepsilon .$$
# *Why:* in the rotated frame the residual is block diagonal ($\Phi$ has no component outside
# $S$ on either side), so every gradient $G_l$ is block diagonal too and GD keeps the form; the
# lower block is $L$ equal scalars, whose gradient is $\rho^{2L-1}$. Sympy, first step from
# $\varepsilon I$ on $\Phi = uv^\top$: $W_1(1) - (\varepsilon-\eta\varepsilon^{2L-1})I$ lives in
# $\operatorname{span}\{u, v\}$ on both sides:

# %%
M_step, P_perp = sdl.first_step_off_span(3)
display(Math(r"W_1(1) - (\varepsilon-\eta\varepsilon^{5}) I = " + sp.latex(M_step)))
first_step_ok = all(sp.simplify(e) == 0 for e in P_perp * M_step) and \
    all(sp.simplify(e) == 0 for e in M_step * P_perp)
print("P_perp M = 0 and M P_perp = 0:", first_step_ok)
ledger.check("S2", "First GD step from eps*I on Phi = u v^T changes W_1 only inside span{u, v} "
             "(sympy)", first_step_ok, True, relation="true", source="derived here (sympy)")

# %% [markdown]
# Simulation: $d = 20$, $r = 2$, $L = 3$, $\varepsilon = 0.3$, $\eta = 0.02$, $T = 4000$,
# $\Phi = U\operatorname{diag}(3, 1.5)V^\top$; the rotated layers $U_l^\top W_l V_l$ every 200 steps.

# %%
d, r, L, eps, eta, T = (C1[k] for k in ("d", "r", "L", "eps", "eta", "steps"))
Phi = dl.low_rank_target(d, C1["s"], rng)
W0 = dl.orthogonal_init(d, L, eps, rng)
traj = dl.train(W0, Phi, lr=eta, steps=T, stride=C1["stride"])
frame = dl.invariant_frame(W0, Phi, r)
rho = dl.complement_scalar_gd(eps, eta, T, L)
off, comp, blocks = dl.block_residual(traj.weights, frame, rho[traj.steps])
print(f"snapshots {traj.steps.size}, layers {L}: max off-diagonal block {off.max():.1e}, "
      f"max |lower block - rho I| {comp.max():.1e}; rho(T) = {rho[-1]:.6f}")
ledger.check("C1a", "Off-diagonal blocks of U_l^T W_l V_l vanish (all l, every 200 steps; "
             "d=20, r=2, L=3, eps=0.3, eta=0.02, T=4000)", off.max(), 1e-10, relation="le",
             source="paper abstract (claim 1); exact form derived here", noise_floor=1e-12)
ledger.check("C1b", "Lower block equals rho(t) I, rho from the scalar GD map", comp.max(), 1e-10,
             relation="le", source="derived here (reconstruction)", noise_floor=1e-12)

# %% [markdown]
# Heavy-ball momentum (repo figure `momentum`, E3: $\mu = 0.9$) keeps the structure as well, since
# its update is a linear combination of block-diagonal gradients; the complement then follows the
# heavy-ball scalar map.

# %%
traj_mom = dl.train(W0, Phi, lr=eta, steps=1000, optimizer="momentum", momentum=0.9, stride=100)
rho_mom = dl.complement_scalar_gd(eps, eta, 1000, L, momentum=0.9)
off_m, comp_m, _ = dl.block_residual(traj_mom.weights, frame, rho_mom[traj_mom.steps])
print(f"momentum: off-diagonal {off_m.max():.1e}, lower - rho I {comp_m.max():.1e}")
ledger.check("C1c", "Heavy-ball momentum (mu = 0.9, 1000 steps) keeps the exact block form",
             max(off_m.max(), comp_m.max()), 1e-10, relation="le",
             source="official code (momentum figure); exact form derived here", noise_floor=1e-12)

# %% [markdown]
# ## 3. Exactly $d-2r$ singular values equal $\rho(t)$ — C1b of the spec [ours]
#
# Consequence of the block form: every $W_l(t)$ has $\rho(t)$ as a singular value of multiplicity
# $d-2r$; the other $2r$ are those of $\tilde W_l(t)$. Checked on the C1 run and on the repo's
# spectrum setting (E1: $d = 30$, rank-3 Gaussian target, $\varepsilon = 1$, $\eta = 1/900$, 50 steps).

# %%
def spectrum_classes(weights, rho_t, tol=1e-9):
    """Counts of singular values above, at (|sigma - rho| < tol) and below rho, per snapshot/layer."""
    sv = linalg.singular_values(weights)
    gap = sv - rho_t[:, None, None]
    return (np.sum(gap > tol, axis=-1), np.sum(np.abs(gap) < tol, axis=-1),
            np.sum(gap < -tol, axis=-1), sv)


rng_e1 = np.random.default_rng(SEED + 1)
Phi_e1 = gaussian_low_rank(E1["d"], E1["r"], rng_e1)
W0_e1 = dl.orthogonal_init(E1["d"], E1["L"], E1["eps"], rng_e1)
traj_e1 = dl.train(W0_e1, Phi_e1, lr=E1["eta"], steps=E1["steps"])
rho_e1 = dl.complement_scalar_gd(E1["eps"], E1["eta"], E1["steps"], E1["L"])
above1, at1, below1, sv_c1 = spectrum_classes(traj.weights[1:], rho[traj.steps][1:])
above2, at2, below2, sv_e1 = spectrum_classes(traj_e1.weights[1:], rho_e1[1:])
exact_count = bool(np.all(at1 == d - 2 * r) and np.all(above1 == r) and np.all(below1 == r)
                   and np.all(at2 == E1["d"] - 2 * E1["r"]) and np.all(above2 == E1["r"])
                   and np.all(below2 == E1["r"]))
print(f"C1 run: at rho {np.unique(at1)}, above {np.unique(above1)}, below {np.unique(below1)}")
print(f"E1 run: at rho {np.unique(at2)}, above {np.unique(above2)}, below {np.unique(below2)}; "
      f"after 50 steps layer 1 top 3 = {np.round(sv_e1[-1, 0, :3], 3)}, "
      f"bottom 3 = {np.round(sv_e1[-1, 0, -3:], 3)}, rho = {rho_e1[-1]:.4f}")
ledger.check("C1d", "Exactly d - 2r singular values of every W_l(t), t > 0, equal rho(t) to 1e-9, "
             "with r above and r below (C1 run and repo E1 setting)", exact_count, True,
             relation="true", source="derived here (reconstruction); E1 figure of the code")
ledger.check("C1e", "E1: top singular value of W_1 after 50 steps (read off the repo figure: "
             "about 1.5)", float(sv_e1[-1, 0, 0]), 1.5, rtol=0.1,
             source="official code, figure thm_main (read off)")

# %%
fig, axes = plotting.figure("triple", ncols=3, sharey=True)
steps_e1 = np.arange(E1["steps"] + 1)
sv_all = linalg.singular_values(traj_e1.weights)
for l, ax in enumerate(axes):
    k = E1["r"]
    ax.plot(steps_e1, sv_all[:, l, :k], color="C3", lw=1.2)
    ax.plot(steps_e1, sv_all[:, l, k:-k], color="0.6", lw=0.8)
    ax.plot(steps_e1, sv_all[:, l, -k:], color="C0", lw=1.2)
    ax.plot(steps_e1, rho_e1, "k--", lw=1, label=r"$\rho(t)$")
    ax.set(title=f"layer {l + 1}", xlabel="GD step")
axes[0].set_ylabel(r"singular values $\sigma_i(W_l)$")
axes[0].plot([], [], color="C3", label=f"top {E1['r']}")
axes[0].plot([], [], color="0.6", label=f"middle {E1['d'] - 2 * E1['r']} (flat)")
axes[0].plot([], [], color="C0", label=f"bottom {E1['r']}")
axes[0].legend()
fig.suptitle(r"E1: $d=30$, $r=3$, $L=3$, $\varepsilon=1$, $\eta=1/900$")
plotting.savefig(fig, NOTEBOOK, "singular_values")
plt.show()

# %% [markdown]
# **Principal angles over time.** The repo plots how singular vectors rotate. At $t = 0$ all
# singular values equal $\varepsilon$, so the singular vectors of $W_l(0)$ are arbitrary; we take
# step 1 as the reference for the top-$r$ and bottom-$r$ right singular subspaces, and compare the
# middle ($\sigma = \rho$) subspace with the predicted complement $V_{l,2}$ (sine of the largest
# principal angle, accurate near 0).

# %%
_, _, Vt_all = np.linalg.svd(traj_e1.weights)
k, m_e1 = E1["r"], E1["d"] - 2 * E1["r"]
frame_e1 = dl.invariant_frame(W0_e1, Phi_e1, E1["r"])
ref_top, ref_bot = Vt_all[1, :, :k].transpose(0, 2, 1), Vt_all[1, :, -k:].transpose(0, 2, 1)
top_angle = linalg.principal_angles(Vt_all[1:, :, :k].transpose(0, 1, 3, 2), ref_top)[..., -1]
bot_angle = linalg.principal_angles(Vt_all[1:, :, -k:].transpose(0, 1, 3, 2), ref_bot)[..., -1]
mid_sine = linalg.subspace_distance(Vt_all[1:, :, k:-k].transpose(0, 1, 3, 2),
                                    frame_e1.V[:, :, 2 * k:])
print(f"largest rotation after 50 steps: top-{k} {top_angle[-1].max():.2f} rad, bottom-{k} "
      f"{bot_angle[-1].max():.2f} rad; middle subspace vs V_l2: max sin {mid_sine.max():.1e}")
ledger.check("C1f", "E1: the middle (sigma = rho) right singular subspace of every layer equals "
             "the predicted complement V_{l,2} (sin of largest angle, all t > 0)",
             float(mid_sine.max()), 1e-9, relation="le", source="derived here (reconstruction)",
             noise_floor=1e-10)

# %%
fig, (ax1, ax2) = plotting.figure("wide", ncols=2)
for l in range(E1["L"]):
    ax1.plot(steps_e1[1:], top_angle[:, l], color="C3", alpha=1 - 0.25 * l,
             label=f"top {k}, layer {l + 1}")
    ax1.plot(steps_e1[1:], bot_angle[:, l], "--", color="C0", alpha=1 - 0.25 * l,
             label=f"bottom {k}, layer {l + 1}")
    ax2.semilogy(steps_e1[1:], np.maximum(mid_sine[:, l], 1e-17), label=f"layer {l + 1}")
ax1.set(xlabel="GD step", ylabel="largest principal angle vs step 1 (rad)",
        title="learned right singular subspaces rotate")
ax2.set(xlabel="GD step", ylabel=r"$\sin\theta_{\max}$(middle, $V_{l,2}$)",
        title="the complement does not move", ylim=(1e-17, 1e-3))
ax1.legend(ncol=2)
ax2.legend()
plotting.savefig(fig, NOTEBOOK, "principal_angles")
plt.show()

# %% [markdown]
# ## 4. Layer alignment from the trained weights alone — C2 [ours]
#
# Without knowing $\Phi$ or $O_l$: keep the singular vectors of $W_l$ whose singular values differ
# from $\rho(t)$ by more than $10^{-7}$. The left ones of $W_l$ and the right ones of $W_{l+1}$ span
# the same space ($V_{l+1} = U_l$).

# %%
sines_c1 = dl.layer_alignment(traj.weights[1:], rho[traj.steps][1:])
sines_e1 = dl.layer_alignment(traj_e1.weights[1:], rho_e1[1:])
align = float(max(np.max(sines_c1), np.max(sines_e1)))
print(f"largest sin(angle) between left(W_l) and right(W_l+1) learned spaces: {align:.1e}")
ledger.check("C2", "Layer alignment found from the weights alone: sin of the largest principal "
             "angle between left(W_l) and right(W_{l+1}) learned spaces, all t > 0", align, 1e-6,
             relation="le", source="derived here (reconstruction)", noise_floor=1e-10)

# %% [markdown]
# ## 5. The compressed network reproduces the trajectory — C3 [paper claim 2; exact form ours]
#
# Train only the $2r\times2r$ chain $\tilde W$ (init $\varepsilon I_{2r}$) on
# $\tilde\Phi = U_{L,1}^\top\Phi V_{1,1}$ with the same $\eta$; then
# $W_{L:1}(t) = U_{L,1}\tilde W_{L:1}(t)V_{1,1}^\top + \rho(t)^L U_{L,2}V_{1,2}^\top$ and, by orthogonal
# invariance of the Frobenius norm, $\ell = \tilde\ell + \tfrac12(d-2r)\rho^{2L}$.

# %%
comp_traj = dl.train_compressed(frame, Phi, lr=eta, steps=T, stride=C1["stride"])
rebuilt = dl.compressed_end_to_end(comp_traj.weights, frame, rho[comp_traj.steps])
traj_err = float(np.linalg.norm(dl.end_to_end(traj.weights) - rebuilt, axis=(-2, -1)).max())
split = traj.losses - comp_traj.losses - dl.complement_loss(rho, L, d - 2 * r)
print(f"max ||W_L:1 - rebuilt||_F = {traj_err:.1e}; max |l - l~ - m rho^2L / 2| = "
      f"{np.abs(split).max():.1e}; final loss {traj.losses[-1]:.3e} = "
      f"{comp_traj.losses[-1]:.3e} (block) + {dl.complement_loss(rho[-1], L, d - 2 * r):.3e} "
      "(complement)")
ledger.check("C3a", "Compressed 2r x 2r chain rebuilds the full end-to-end matrix at every "
             "snapshot", traj_err, 1e-10, relation="le",
             source="paper abstract (claim 2); exact form derived here", noise_floor=1e-12)
ledger.check("C3b", "Loss split l = l~ + (d - 2r) rho^{2L} / 2 at every step",
             float(np.abs(split).max()), 1e-12, relation="le",
             source="derived here (reconstruction)", noise_floor=1e-13)

# %%
fig, ax = plotting.figure("single")
steps_all = np.arange(T + 1)
ax.semilogy(steps_all, traj.losses, lw=3, alpha=0.4, color="C0", label=r"full network $\ell$")
ax.semilogy(steps_all, comp_traj.losses + dl.complement_loss(rho, L, d - 2 * r), "k--", lw=1,
            label=r"compressed $\tilde\ell + \frac{m}{2}\rho^{2L}$")
ax.semilogy(steps_all, comp_traj.losses, color="C1", label=r"compressed $\tilde\ell$")
ax.semilogy(steps_all, dl.complement_loss(rho, L, d - 2 * r), color="C2", lw=1,
            label=r"complement $\frac{m}{2}\rho^{2L}$")
ax.set(xlabel="GD step", ylabel="loss", title=r"C1 setting: full vs compressed ($\varepsilon=0.3$)")
ax.legend()
plotting.savefig(fig, NOTEBOOK, "loss_full_vs_compressed")
plt.show()

# %% [markdown]
# With $\varepsilon = 0.3$ the complement term $\tfrac12(d-2r)\rho^{2L}$ decays only polynomially
# ($\rho\sim t^{-1/(2L-2)}$) and dominates the late loss; the block loss $\tilde\ell$ goes to zero.
#
# ## 6. Balancedness: exact for flow, $O(\eta)$ drift for GD — C4 [ours]
#
# $D_l = W_{l+1}^\top W_{l+1} - W_lW_l^\top$. Sympy: one step $W\mapsto W-\eta G$ changes $D_l$ by a
# polynomial in $\eta$ whose first-order coefficient vanishes for the true gradients (both
# $W_{l+1}^\top G_{l+1}$ and $G_lW_l^\top$ equal $W_{L:l+1}^\top E\,W_{l:1}^\top$), leaving exactly
# $\eta^2(G_{l+1}^\top G_{l+1} - G_lG_l^\top)$; so $\dot D_l = 0$ under gradient flow, and the GD drift
# over a fixed time $\eta t$ is $O(\eta)$. At orthogonal init $D_l(0) = \varepsilon^2(I - I) = 0$.

# %%
eta_s, first, second, remainder = sdl.balancedness_expansion(2)
display(Math(r"D(W-\eta G) - D(W) = \eta\,\Big[-\big(B^\top G_B + G_B^\top B - A G_A^\top - G_A A^\top"
             r"\big)\Big] + \eta^2\big(G_B^\top G_B - G_A G_A^\top\big)"))
first_cancels = all(e == 0 for M in sdl.balancedness_first_order(3, 2) for e in M)
expansion_exact = all(e == 0 for e in remainder)
print("expansion exact:", expansion_exact, "| first-order term cancels for true gradients (L=3):",
      first_cancels)
ledger.check("S3", "Balancedness: first-order term cancels, remainder is exactly "
             "eta^2 (G_{l+1}^T G_{l+1} - G_l G_l^T) (sympy)", expansion_exact and first_cancels,
             True, relation="true", source="derived here (sympy)")

# %%
rng_c4 = np.random.default_rng(SEED + 4)
Phi4 = dl.low_rank_target(C4["d"], (3.0, 1.5), rng_c4)
W04 = dl.orthogonal_init(C4["d"], C4["L"], C4["eps"], rng_c4)
drift = []
for eta4 in C4["etas"]:
    run = dl.train(W04, Phi4, lr=eta4, steps=int(round(C4["time"] / eta4)), stride=10**9)
    drift.append(float(np.linalg.norm(dl.balancedness(run.final), axis=(-2, -1)).max()))
# one-step identity on a mid-trajectory point
Wmid = dl.train(W04, Phi4, lr=0.02, steps=100, stride=10**9).final
G = dl.layer_gradients(Wmid, Phi4)
change = dl.balancedness(Wmid - 0.02 * G) - dl.balancedness(Wmid)
predicted = 0.02**2 * (np.swapaxes(G[1:], -1, -2) @ G[1:] - G[:-1] @ np.swapaxes(G[:-1], -1, -2))
one_step = float(np.abs(change - predicted).max())
d0 = float(np.abs(dl.balancedness(W04)).max())
print("max_l ||D_l||_F at eta t = 40:", ", ".join(f"eta={e}: {v:.4e}" for e, v in
                                                   zip(C4["etas"], drift)))
print(f"ratios {drift[0] / drift[1]:.4f}, {drift[1] / drift[2]:.4f}; one-step identity error "
      f"{one_step:.1e}; max |D_l(0)| = {d0:.1e}")
ledger.check("C4a", "One GD step changes D_l by exactly eta^2 (G_{l+1}^T G_{l+1} - G_l G_l^T)",
             one_step, 1e-12, relation="le", source="derived here (reconstruction)",
             noise_floor=1e-14)
ledger.check("C4b", "Balancedness drift at fixed eta t = 40 scales like eta: ratio "
             "eta = 0.04 vs 0.02", drift[0] / drift[1], 2.0, atol=0.2,
             source="derived here (reconstruction)")
ledger.check("C4c", "Balancedness drift ratio eta = 0.02 vs 0.01", drift[1] / drift[2], 2.0,
             atol=0.2, source="derived here (reconstruction)")
ledger.check("C4d", "Orthogonal init is balanced: max |D_l(0)| (round-off only)", d0, 1e-14,
             relation="le", source="derived here (reconstruction)", noise_floor=1e-14)

# %% [markdown]
# ## 7. The complement scalar: GD vs gradient flow — C5 [ours]
#
# Flow: $\dot\rho = -\rho^{2L-1}$, $\rho(0)=\varepsilon$ gives
# $\rho(t) = \bigl(\varepsilon^{2-2L} + (2L-2)t\bigr)^{1/(2-2L)}$ (checked by sympy for $L = 2, 3, 4$
# and symbolic $L$). One GD step $\rho^+ = \rho - \eta\rho^{2L-1}$ differs from the flow by
# $-\tfrac{2L-1}{2}\varepsilon^{4L-3}\eta^2 + O(\eta^3)$, so the global error at fixed $\eta t$ is $O(\eta)$.

# %%
rho_sym, t_sym, eps_sym, L_sym = sdl.complement_flow(None)
display(Math(r"\rho(t) = " + sp.latex(rho_sym)))
ode_ok = all(sdl.complement_ode_residual(Lc) == (0, 0) for Lc in (2, 3, 4, None))
local = [sdl.complement_local_error(Lc) for Lc in (2, 3, 4)]
local_ok = all(sp.simplify(a - b) == 0 for a, b in local)
display(Math(r"\rho_{GD}(\eta) - \rho_{flow}(\eta)\big|_{L=3} = " + sp.latex(local[1][0])
             + r" + O(\eta^3)"))
print("ODE and initial value hold (L = 2, 3, 4, symbolic L):", ode_ok,
      "| local error -(2L-1)/2 eps^(4L-3) eta^2:", local_ok)
ledger.check("S4", "rho(t) = (eps^{2-2L} + (2L-2) t)^{1/(2-2L)} solves rho' = -rho^{2L-1}, "
             "rho(0) = eps; GD local error is O(eta^2) (sympy)", ode_ok and local_ok, True,
             relation="true", source="derived here (sympy)")

# %%
rho_flow = float(dl.complement_scalar_flow(C5["eps"], C5["time"], C5["L"]))
gaps = [abs(dl.complement_scalar_gd(C5["eps"], e, int(round(C5["time"] / e)), C5["L"])[-1]
            - rho_flow) for e in C5["etas"]]
print(f"rho_flow(200) = {rho_flow:.6f}; |rho_GD - rho_flow| =",
      ", ".join(f"{g:.3e}" for g in gaps))
ledger.check("C5a", "|rho_GD - rho_flow| at eta t = 200, eta = 0.1", gaps[0], 1e-4,
             relation="le", source="derived here (reconstruction)")
ledger.check("C5b", "|rho_GD - rho_flow| halves with eta: ratio 0.1 vs 0.05", gaps[0] / gaps[1],
             2.0, atol=0.2, source="derived here (reconstruction)")
ledger.check("C5c", "ratio 0.05 vs 0.025", gaps[1] / gaps[2], 2.0, atol=0.2,
             source="derived here (reconstruction)")

# %% [markdown]
# **Scalar balanced dynamics.** With all $w_l = w$: $\dot w = -w^{L-1}(w^L-\phi)$, so $p = w^L$ obeys
# $\dot p = -Lp^{2-2/L}(p-\phi)$ (the end-to-end law of Saxe et al. / Arora et al.). For $L = 2$,
# $u = w^2$ is logistic: $u(t) = \phi/\bigl(1+(\phi/\varepsilon^2-1)e^{-2\phi t}\bigr)$. For $L\ge3$ the
# implicit solution $t(p) = \int_{\varepsilon^L}^p \frac{dq}{Lq^{2-2/L}(\phi-q)}$ has a plateau of
# flow time $\approx \varepsilon^{2-L}/((L-2)\phi)$ (versus $\ln(\phi/\varepsilon^2)/(2\phi)$ at $L = 2$).

# %%
u_sym, t_u, phi_u, eps_u = sdl.logistic_solution()
display(Math(r"u(t) = " + sp.latex(u_sym)))
plateau, plateau_expected = sdl.plateau_leading_term(None)
display(Math(r"\int_{\varepsilon^L}^{\infty}\frac{dq}{L\phi\, q^{2-2/L}}\Big|_{L=2+k} = "
             + sp.latex(plateau)))
scalar_ok = (sdl.end_to_end_law() == 0 and sdl.logistic_residual() == (0, 0)
             and sp.simplify(plateau - plateau_expected) == 0)
print("end-to-end law, logistic solution and plateau leading term verified:", scalar_ok)
ledger.check("S5", "Scalar dynamics: p' = -L p^{2-2/L}(p - phi); L = 2 logistic solution; "
             "plateau eps^{2-L}/((L-2) phi) (sympy)", scalar_ok, True, relation="true",
             source="derived here (sympy)")


def scalar_gd_square(phi, eps0, eta0, flow_time):
    """GD on w' = -w (w^2 - phi) (L = 2 balanced scalar) up to flow time; returns w^2."""
    w = eps0
    for _ in range(int(round(flow_time / eta0))):
        w = w - eta0 * w * (w * w - phi)
    return w * w


u_exact = float(u_sym.subs({phi_u: C5_SCALAR["phi"], eps_u: C5_SCALAR["eps"],
                            t_u: C5_SCALAR["time"]}))
logistic_gaps = [abs(scalar_gd_square(C5_SCALAR["phi"], C5_SCALAR["eps"], e, C5_SCALAR["time"])
                     - u_exact) for e in C5_SCALAR["etas"]]
print(f"u(3) = {u_exact:.8f}; |w^2 - u| = " + ", ".join(f"{g:.3e}" for g in logistic_gaps))
ledger.check("C5d", "Scalar L = 2: |w_GD^2 - u_logistic| at flow time 3, eta = 1e-3",
             logistic_gaps[0], 1e-4, relation="le", source="derived here (reconstruction)")
ledger.check("C5e", "Scalar L = 2: the gap halves from eta = 1e-3 to 5e-4",
             logistic_gaps[0] / logistic_gaps[1], 2.0, atol=0.2,
             source="derived here (reconstruction)")

# %% [markdown]
# ## 8. Geometric feature separation — C6 [paper claim 3; rate ours]
#
# E8 data: $K = 5$ classes, $n = 10$ samples each, $N = 50$, $X$ a $50\times50$ orthogonal matrix,
# one-hot $Y$ ($5\times50$, so $W_L$ is $5\times50$), width 50, sum loss, trained until
# $\ell < 10^{-6}$. Metric (repo): $D_l = \operatorname{tr}\Sigma_W/\operatorname{tr}\Sigma_B$ of
# $h_l = W_{l:1}X$, $l = 0..L-1$. For orthonormal inputs $D_0 = (1-1/n)/(1/n-1/N)$.
# **Rate [ours]:** within-class directions sit in the complement, which each layer scales by
# $\varepsilon$ (here $d_y = K$, so the last layer removes the complement from the loss and
# $\rho\equiv\varepsilon$), while each balanced block layer scales the class means by
# $\sigma^{1/L} = n^{1/(2L)}$; hence $D_l \approx D_0(\varepsilon^2 n^{-1/L})^l$.

# %%
X6, Y6, labels6 = dl.classification_data(C6["K"], C6["n"], rng)
N6 = C6["K"] * C6["n"]
d0_expected = dl.separation_d0(C6["n"], N6)
separation = {}
for L6, eps6, eta6 in C6["runs"]:
    W06 = dl.orthogonal_init(N6, L6, eps6, rng, d_out=C6["K"])
    run = dl.train(W06, Y6, inputs=X6, lr=eta6, steps=C6["max_steps"], tol=C6["tol"],
                   stride=10**9)
    D = dl.feature_separation(run.final, X6, labels6)
    ratio6, r2 = dl.log_linear_fit(D)
    separation[(L6, eps6)] = dict(D=D, ratio=ratio6, r2=r2, steps=run.n_steps,
                                  converged=run.converged,
                                  predicted=dl.predicted_separation_ratio(eps6, C6["n"], L6))
    print(f"L={L6}, eps={eps6}, eta={eta6}: converged={run.converged} in {run.n_steps} steps; "
          f"fitted ratio {ratio6:.4f} vs predicted {separation[(L6, eps6)]['predicted']:.4f}; "
          f"R^2 = {r2:.6f}")
d0_err = max(abs(s["D"][0] - d0_expected) for s in separation.values())
ledger.check("C6a", "D_0 = (1 - 1/n)/(1/n - 1/N) for orthonormal inputs (all runs)", d0_err,
             1e-9, relation="le", source="derived here (reconstruction)", noise_floor=1e-12)
ledger.check("C6b", "log D_l is linear in l: smallest R^2 over the four runs",
             min(s["r2"] for s in separation.values()), 0.999, relation="ge",
             source="paper abstract (claim 3); official code fig_collapse")
ledger.check("C6c", "all four runs reach loss < 1e-6",
             all(s["converged"] for s in separation.values()), True, relation="true",
             source="derived here (setup of spec C6)")
for (L6, eps6), s in separation.items():
    ledger.check(f"C6-L{L6}-e{eps6}", f"Per-layer ratio of D_l (L={L6}, eps={eps6}) equals "
                 "eps^2 n^{-1/L}", s["ratio"], s["predicted"], rtol=0.05,
                 source="derived here (reconstruction); slope of the repo's figures")

# %%
fig, ax = plotting.figure("single")
for i, ((L6, eps6), s) in enumerate(separation.items()):
    layers6 = np.arange(L6)
    ax.semilogy(layers6, s["D"], "o", color=f"C{i}", label=rf"$L={L6}$, $\varepsilon={eps6}$")
    ax.semilogy(layers6, d0_expected * s["predicted"] ** layers6, "--", color=f"C{i}", lw=1)
ax.set(xlabel="layer $l$", ylabel=r"$D_l = \mathrm{tr}\,\Sigma_W / \mathrm{tr}\,\Sigma_B$",
       title=r"dots: trained; dashed: $D_0(\varepsilon^2 n^{-1/L})^l$")
ax.legend()
plotting.savefig(fig, NOTEBOOK, "feature_separation")
plt.show()

# %% [markdown]
# ## 9. Depth helps matrix completion — C7 [official code, fig_compare_depth; check ours]
#
# $d = 40$, rank-3 Gaussian target (repo style), 35 % of the entries observed, full width,
# $\varepsilon = 10^{-3}$, $\eta = 0.01$, at most 60 000 steps, stop at mean train loss $10^{-10}$.
# Test error: $\tfrac12$ mean over all $d^2$ entries of the squared residual on the unobserved
# entries. Depth 3 recovers the matrix; depth 2 (whose implicit bias towards low rank is weaker)
# plateaus at a higher test error and may not reach the tolerance within the cap.

# %%
# NBVAL_IGNORE_OUTPUT
completion = []
for seed in C7["seeds"]:
    rng7 = np.random.default_rng(SEED + 100 + seed)
    Phi7 = gaussian_low_rank(C7["d"], C7["r"], rng7)
    mask7 = dl.observation_mask(Phi7.shape, C7["fraction"], rng7)
    row = {}
    for L7 in (2, 3):
        W07 = dl.orthogonal_init(C7["d"], L7, C7["eps"], rng7)
        run = dl.train(W07, Phi7, mask=mask7, lr=C7["eta"], steps=C7["max_steps"],
                       tol=C7["mean_tol"] * Phi7.size, stride=10**9)
        row[L7] = (run.n_steps, run.converged,
                   dl.completion_errors(dl.end_to_end(run.final), Phi7, mask7)[1])
    completion.append(row)
    print(f"seed {seed}: L=2 test {row[2][2]:.2e} ({row[2][0]} steps, converged {row[2][1]}); "
          f"L=3 test {row[3][2]:.2e} ({row[3][0]} steps, converged {row[3][1]})")

# %%
worst_ratio = max(row[3][2] / row[2][2] for row in completion)
ledger.check("C7", "Matrix completion: test error(L=3) / test error(L=2), worst of 3 seeds",
             worst_ratio, 1e-2, relation="le",
             source="official code fig_compare_depth (E7); setting of spec C7", digits=2)

# %% [markdown]
# ## 10. Negative controls (reported, not asserted)
#
# * **Adam** (lr $10^{-3}$, 300 steps, C1 setting): the entrywise scaling breaks the block form.
# * **Non-whitened data** (E2-like: $d = 30$, $N = 300$, $X\sim\mathcal N(0,1)/15$, $Y$ with 3
#   non-zero rows, $\varepsilon = 1$, $\eta = 1/900$, 50 steps; square layers): the middle singular
#   values of $W_1$ stay close but no longer equal; the whitened version of the same data keeps them
#   equal to round-off.
# * **Gaussian init** of matched norm: $W_l(0)$ is not $\varepsilon\times$orthogonal, so the frame
#   $U_l, V_l$ cannot be built (our `invariant_frame` refuses), yet feature separation is still
#   geometric (E11).

# %%
adam = dl.train(W0, Phi, lr=1e-3, steps=300, optimizer="adam", stride=50)
off_a, comp_a, _ = dl.block_residual(adam.weights, frame, np.full(adam.steps.size, eps))
print(f"Adam: largest off-diagonal block {off_a.max():.3f}, ||lower - eps I|| {comp_a.max():.3f} "
      f"(GD: {off.max():.0e})")

rng_nw = np.random.default_rng(SEED + 2)
d_nw, N_nw, r_nw = 30, 300, 3
X_raw = rng_nw.standard_normal((d_nw, N_nw)) / 15
Y_nw = np.zeros((d_nw, N_nw))
Y_nw[:r_nw] = rng_nw.standard_normal((r_nw, N_nw))
evals, evecs = np.linalg.eigh(X_raw @ X_raw.T)
X_white = (evecs / np.sqrt(evals)) @ evecs.T @ X_raw
W0_nw = dl.orthogonal_init(d_nw, 3, 1.0, rng_nw)
for name, X_nw in (("whitened", X_white), ("raw", X_raw)):
    run = dl.train(W0_nw, Y_nw, inputs=X_nw, lr=1 / 900, steps=50)
    sv = linalg.singular_values(run.weights[:, 0])
    middle = sv[:, r_nw:-r_nw]
    print(f"{name:9s} X: spread of the 24 middle singular values of W_1 "
          f"{(middle.max(-1) - middle.min(-1)).max():.1e}; top-3 moved to "
          f"{np.round(sv[-1, :r_nw], 3)}, bottom-3 to {np.round(sv[-1, -r_nw:], 3)}")

W0_gauss = dl.gaussian_init(d, L, eps, rng)
try:
    dl.invariant_frame(W0_gauss, Phi, r)
except ValueError as err:
    print("Gaussian init, invariant_frame:", str(err)[:70], "...")
L_g, eps_g = 8, 0.5
W0_g8 = dl.gaussian_init(N6, L_g, eps_g, rng, d_out=C6["K"])
run_g = dl.train(W0_g8, Y6, inputs=X6, lr=0.01, steps=C6["max_steps"], tol=C6["tol"],
                 stride=10**9)
ratio_g, r2_g = dl.log_linear_fit(dl.feature_separation(run_g.final, X6, labels6))
print(f"Gaussian init, L = 8, eps = 0.5: log-linear R^2 = {r2_g:.5f}, per-layer ratio "
      f"{ratio_g:.3f} (orthogonal-init prediction {dl.predicted_separation_ratio(0.5, 10, 8):.3f})")

# %% [markdown]
# ## 11. Paper-scale equivalence and cost (E4, E5, E7)
#
# Quick mode runs reduced versions; `THEORY_FULL=1` runs the authors' sizes: E4 ($d = 1000$,
# $r = 10$, $L = 3$, $\varepsilon = 10^{-3}$, $\eta = 10^{-3}$ for the sum loss, until $\ell < 10^{-10}$:
# about 20 000 steps, i.e. roughly an hour for the full network on one core at ~0.16 s per step,
# against about a second for the compressed one), E5 (matrix completion, $d = 1000$,
# $r = 5$, 20 % observed, the depth-$(L+2)$ compressed network with outer factors trained at
# $\gamma\eta$, $\gamma\in\{0, 0.01\}$), and E7 (depth 2 vs 3 at $d = 100$, $r = 10$, 30 % observed,
# full width, 5 trials). E5's full network is of the same cost per step as E4's; plan several
# hours for the whole full mode. Wall times depend on the machine and the load; iteration counts
# do not.
#
# **E4 equivalence.** The compressed network needs no knowledge of the full trajectory: the frame
# costs a rank-$r$ SVD of $\Phi$ (randomized, $O(d^2r)$), $O^\top U_\Phi$, one thin SVD of
# $[V_\Phi, O^\top U_\Phi]$ ($d\times 2r$) and $U_{L,1} = OV_{1,1}$; the chain trains on $\tilde\Phi$.
# It stops on $\tilde\ell$, which lacks the complement term $\tfrac12(d-2r)\rho^{2L}$, so it may reach
# the tolerance one step earlier; we compare at the common snapshots.

# %%
rng_eq = np.random.default_rng(SEED + 3)
Phi_eq = gaussian_low_rank(EQUIV["d"], EQUIV["r"], rng_eq)
W0_eq = dl.orthogonal_init(EQUIV["d"], 3, EQUIV["eps"], rng_eq)
t0 = time.perf_counter()
full_eq = dl.train(W0_eq, Phi_eq, lr=EQUIV["eta"], steps=EQUIV["max_steps"], tol=EQUIV["tol"],
                   stride=EQUIV["stride"], progress=config.is_full())
time_full = time.perf_counter() - t0
t0 = time.perf_counter()      # the fast path: thin frame, randomized O(d^2 r) SVD of Phi
frame_fast = dl.invariant_frame(W0_eq, Phi_eq, EQUIV["r"], thin=True, svd="randomized",
                                rng=np.random.default_rng(SEED + 30))
comp_fast = dl.train_compressed(frame_fast, Phi_eq, lr=EQUIV["eta"], steps=EQUIV["max_steps"],
                                tol=EQUIV["tol"], stride=10**9)
time_comp = time.perf_counter() - t0
# the full frame (all d columns) is needed to rebuild W_L:1 including the rho^L complement
frame_eq = dl.invariant_frame(W0_eq, Phi_eq, EQUIV["r"])
comp_eq = dl.train_compressed(frame_eq, Phi_eq, lr=EQUIV["eta"], steps=EQUIV["max_steps"],
                              tol=EQUIV["tol"], stride=EQUIV["stride"])

# %%
# NBVAL_IGNORE_OUTPUT
print(f"E4 (d={EQUIV['d']}, r={EQUIV['r']}): full network {full_eq.n_steps} iterations in "
      f"{time_full:.2f} s; compressed (incl. frame) {comp_fast.n_steps} iterations in "
      f"{time_comp:.3f} s; wall-time ratio {time_full / time_comp:.0f}x")

# %%
common, i_full, i_comp = np.intersect1d(full_eq.steps, comp_eq.steps, return_indices=True)
n_common = common.size
rho_eq = dl.complement_scalar_gd(EQUIV["eps"], EQUIV["eta"], int(common[-1]), 3)
P_full = dl.end_to_end(full_eq.weights[i_full])
P_comp = dl.compressed_end_to_end(comp_eq.weights[i_comp], frame_eq, rho_eq[common])
rel_gap = float(np.max(np.linalg.norm(P_full - P_comp, axis=(-2, -1))
                       / np.maximum(np.linalg.norm(P_full, axis=(-2, -1)), 1e-300)))
print(f"both converged: {full_eq.converged and comp_eq.converged}; iterations differ by "
      f"{abs(full_eq.n_steps - comp_eq.n_steps)}; largest relative gap of the end-to-end "
      f"matrices over {n_common} common snapshots: {rel_gap:.1e}")
ledger.check("C3c", f"E4 at d = {EQUIV['d']}, r = {EQUIV['r']}: compressed and full end-to-end "
             "matrices agree (relative gap, common snapshots)", rel_gap, 1e-10, relation="le",
             source="paper abstract (claim 2); official code fig_equiv_traj_L2", noise_floor=1e-10)
ledger.check("C3d", "E4: both reach loss < 1e-10 and their iteration counts differ by at most 1",
             full_eq.converged and comp_eq.converged
             and abs(full_eq.n_steps - comp_eq.n_steps) <= 1, True, relation="true",
             source="official code fig_equiv_traj_L2 (same iteration count)")

# %% [markdown]
# **E5 matrix completion with trainable outer factors.** The masked loss is not covered by the
# exact statement. The repo's compressed network $[V_{1,1}^\top, \varepsilon I_{2r}\,(L\times),
# U_{L,1}]$ (frame from the top-$r$ singular spaces of the observed matrix $M\odot\Phi$, which is
# what the gradient at init sees) is trained with the outer factors at $\gamma\eta$.

# %%
rng_mc = np.random.default_rng(SEED + 5)
d_mc = MC["d"]
Phi_mc = gaussian_low_rank(d_mc, MC["r"], rng_mc)
mask_mc = dl.observation_mask(Phi_mc.shape, MC["fraction"], rng_mc)
W0_mc = dl.orthogonal_init(d_mc, 3, MC["eps"], rng_mc)
tol_mc = MC["mean_tol"] * Phi_mc.size
mc_runs = {}
t0 = time.perf_counter()
run = dl.train(W0_mc, Phi_mc, mask=mask_mc, lr=MC["eta"], steps=MC["max_steps"], tol=tol_mc,
               stride=10**9, progress=config.is_full())
mc_runs["original"] = (run, time.perf_counter() - t0)
for gamma in (0.0, MC["gamma"]):
    t0 = time.perf_counter()
    frame_mc = dl.invariant_frame(W0_mc, mask_mc * Phi_mc, MC["r"])
    net = dl.factored_compressed_network(frame_mc)
    run = dl.train(net, Phi_mc, mask=mask_mc, lr=MC["eta"], steps=MC["max_steps"], tol=tol_mc,
                   lr_scale=[gamma, 1.0, 1.0, 1.0, gamma], stride=10**9,
                   progress=config.is_full())
    mc_runs[f"compressed, gamma={gamma}"] = (run, time.perf_counter() - t0)

# %%
# NBVAL_IGNORE_OUTPUT
for name, (run, seconds) in mc_runs.items():
    train_err, test_err = dl.completion_errors(dl.end_to_end(run.final), Phi_mc, mask_mc)
    print(f"{name:22s}: {run.n_steps:6d} iterations ({'converged' if run.converged else 'cap'}), "
          f"{seconds:7.2f} s, train {train_err:.1e}, test {test_err:.1e}")

# %% [markdown]
# In our runs the $\gamma = 0.01$ network reaches the original's test error while the frozen one
# ($\gamma = 0$) stalls at a much higher error, as in the repo's E5 figure; but it needs more
# iterations than the original (the repo reports the same count), and at small $d$ it is not
# faster in wall time because the per-step cost is dominated by interpreter overhead.
#
# **E7 depth 2 vs 3 at the repo's size** (full mode only; quick mode relies on C7 above).

# %%
# NBVAL_IGNORE_OUTPUT
if config.is_full():
    for trial in range(DEPTH["trials"]):
        rng_d = np.random.default_rng(SEED + 200 + trial)
        Phi_d = gaussian_low_rank(DEPTH["d"], DEPTH["r"], rng_d)
        mask_d = dl.observation_mask(Phi_d.shape, DEPTH["fraction"], rng_d)
        for L_d, eta_d in DEPTH["etas"].items():
            W0_d = dl.orthogonal_init(DEPTH["d"], L_d, DEPTH["eps"], rng_d)
            run = dl.train(W0_d, Phi_d, mask=mask_d, lr=eta_d, steps=DEPTH["max_steps"],
                           tol=DEPTH["mean_tol"] * Phi_d.size, stride=10**9)
            print(f"trial {trial}, L={L_d}: {run.n_steps} iterations, test error "
                  f"{dl.completion_errors(dl.end_to_end(run.final), Phi_d, mask_d)[1]:.2e}")
else:
    print("E7 at d = 100 runs only with THEORY_FULL=1")

# %% [markdown]
# ## What reproduced, and where care was needed
#
# * Every checkable claim of the spec reproduces at the spec's tolerances: the invariant
#   $2r$-block and $\rho(t)$ are exact to round-off ($10^{-15}$) for GD and heavy-ball momentum,
#   and the compressed $2r\times2r$ chain rebuilds the full trajectory and loss to round-off.
# * The block has size $2r$, not $r$: the learned directions are $\operatorname{span}(V_\Phi)$
#   *plus* the preimage $O^\top U_\Phi$ of the column space, and inside it the bottom $r$ singular
#   values fall *below* $\rho$ (figure 1). Defining the block as "the top $2r$ singular vectors"
#   would be wrong.
# * The repository's singular-vector angles "versus $t = 0$" are ill-defined because
#   $W_l(0) = \varepsilon O_l$ has a single repeated singular value; we measure rotation from step 1.
# * Feature separation: the fitted per-layer ratios lie 1–3 % *below* our prediction
#   $\varepsilon^2 n^{-1/L}$ in all four runs (within the 5 % tolerance); the prediction neglects the
#   imbalance of the block layers after finite-step training.
# * E5 (matrix completion with outer factors): as in the repository, $\gamma = 0$ stalls and
#   $\gamma = 0.01$ reaches the original's test error; unlike the repository's report, it needs more
#   iterations than the original network in our runs. This is a reported observation, not a ledger claim.
# * E4 at scale: the compressed chain stops on $\tilde\ell$, which omits
#   $\tfrac12(d-2r)\rho^{2L}$, so it may stop one step earlier than the full network; the trajectories
#   themselves agree to $10^{-13}$ relative.

# %% [markdown]
# ## Try it yourself
#
# Change one value in the `parameters` cell (the first code cell), re-run the whole notebook and
# compare with the numbers below; they come from our own quick-mode runs with the default seed.
# Restore the value before trying the next change.
#
# * **A deeper or higher-rank C1 network: `L=5` in `C1`** (or `r=3, s=(3.0, 1.5, 0.75)`). The block
#   form is exact for every depth and rank **[ours]**, so C1a–C1d, C2 and C3a/b should still hold to
#   round-off. Observed: all 33 claims pass, off-diagonal blocks $\le4\cdot10^{-15}$; with `r=3`,
#   14 $= d-2r$ singular values sit at $\rho$, 3 above and 3 below. With `L=5` the complement hardly
#   moves, $\rho(T) = 0.2985$ against $0.2179$ at $L = 3$, as
#   $\rho = (\varepsilon^{2-2L}+(2L-2)\eta t)^{1/(2-2L)}$ predicts, yet its loss
#   $\tfrac12(d-2r)\rho^{2L}$ is smaller ($4.5\cdot10^{-5}$ against $8.6\cdot10^{-4}$).
# * **A large initialisation for feature separation: in `C6`, replace the last run `(8, 0.5, 0.01)`
#   by `(4, 1.0, 0.01)`.** Our rate predicts a per-layer ratio
#   $\varepsilon^2n^{-1/L} = 10^{-1/4} = 0.562$ **[ours]**. Observed: the separation is still geometric
#   ($R^2 = 0.99997$, C6b passes), but the fitted ratio is 0.515, 8 % low, so the new claim
#   **C6-L4-e1.0 fails** (tolerance 5 %; C6-L8-e0.5 disappears from the table). The deficit, 1–3 %
#   at $\varepsilon\le0.5$, grows with $\varepsilon$; presumably because the estimate treats
#   $\varepsilon$ as small next to the learned per-layer scale $n^{1/(2L)}\approx1.33$.
# * **A large initialisation for matrix completion: `eps=0.1` in `C7`** (default $10^{-3}$). We
#   expected both depths to generalise worse, since a large initialisation weakens the implicit bias
#   towards low rank **[ours: an expectation from the implicit-bias literature, not from this
#   paper]**, and feared for C7. Observed: depth 2 now fits the observed entries within
#   9 500–12 200 steps but with test errors $2.6$–$8.0\cdot10^{-3}$
#   (default $1.5\cdot10^{-6}$–$2.9\cdot10^{-5}$);
#   depth 3 no longer reaches the tolerance within 60 000 steps and ends at
#   $3.2$–$6.2\cdot10^{-7}$ (default $3.2$–$4.6\cdot10^{-9}$). Depth 2 suffers more, so the worst ratio
#   *improves* to $2\cdot10^{-4}$ (default $2.1\cdot10^{-3}$) and C7 still passes.

# %% [markdown]
# ## Claims

# %%
# NBVAL_CHECK_OUTPUT
print(ledger.table())

# %%
# NBVAL_IGNORE_OUTPUT
print(f"notebook wall time {time.perf_counter() - t_start:.1f} s ({config.mode()} mode)")

# %%
ledger.publish(NOTEBOOK)
ledger.assert_all()
