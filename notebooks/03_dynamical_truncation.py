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
# # Dynamical truncation of training data: ReLU training as an effective flow in input space
#
# **Paper.** T. Chen, *Derivation of effective gradient flow equations and dynamical truncation
# of training data in Deep Learning*, arXiv:2501.07400 (2025).
#
# **What the paper claims** (abstract and opening of Sec. 1; tagged **[paper]** below):
# explicit equations are derived for the *cumulative* biases and weights of a ReLU network
# trained by gradient descent on a Euclidean cost **in the input layer**, under the hypothesis
# that the weights are *adapted* to the coordinate frame of the activations. Training is then
# a dynamical process in input space in which clusters of data are progressively
# **truncated**, at an **exponential rate that increases with the number of points already
# truncated**; several types of solutions are discussed; under suitable conditions a cluster
# is **contracted to a single point** (a dynamical neural collapse), giving zero training loss.
#
# **What is ours.** Only the abstract and the first paragraphs of the introduction could be
# read; the definitions, theorems and proofs of the body were not available to us. Every
# equation in this notebook is therefore **our reconstruction**, built on the truncation-map
# framework of Chen & Muñoz Ewald (arXiv:2405.07098, eq. (1)): cumulative parameters, the
# truncation identity, "adapted = positive diagonal", the input-layer cost, the flow equations
# (E1)/(E2), their explicit solutions, and every check. They are consistent with the abstract
# but are *not* quotations or theorems of the paper. The method note
# `docs/03_dynamical_truncation.md` states the setting, the equations and what is
# reconstructed, and why.
#
# | tag | meaning |
# |---|---|
# | **[paper]** | stated in the abstract / Sec. 1 of arXiv:2501.07400 (paraphrased) |
# | **[ours]** | our reconstruction or derivation; the ledger's `source` says "derived here (reconstruction)" |
#
# Every row of the claims table has a kind: **evidence** (it would fail under a named
# alternative, quoted with its number) or **consistency** (an identity of the algebra or of
# the code, shown but not counted as a reproduction).

# %% tags=["parameters"]
import numpy as np
import scipy.stats
import sympy as sp
import matplotlib.pyplot as plt
from IPython.display import display
from theory import config, plotting
from theory import relu_flow as rf
from theory import relu_thresholds as rth
from theory import relu_training as rtr
from theory.fitting import central_difference, log_linear_fit
from theory.symbolic import relu_flow as srf
from theory.claims import Ledger

SEED = config.SEED
N_PER_CLUSTER = config.pick(quick=8, full=16)       # points per cluster
SPREAD = 0.3                                        # cluster standard deviation
GRID = config.pick(quick=10_001, full=100_001)      # time grid for monotonicity checks (>= 1e4)
S_END = 40.0                                        # flow time of (E1) (targets reached to ~1e-9)
GD_STEPS = config.pick(quick=400, full=4000)        # steps of the per-layer bias GD in Sec. 2b
LR_NET = 1e-3                                       # step of the network GD of Sec. 4
N_WEIGHT_RUNS = config.pick(quick=12, full=40)      # random clusters trained in (W, beta), Sec. 9
RECON = "derived here (reconstruction)"
ABSTRACT = "paper, abstract"

# %%
rng = np.random.default_rng(SEED)
plotting.use_style()
sp.init_printing(use_latex="mathjax")
ledger = Ledger("Dynamical truncation (Chen, arXiv:2501.07400)", seed=SEED,
                notebook="03_dynamical_truncation")

# %% [markdown]
# ## 0. Setting [ours]
#
# Network with all widths $M$ and invertible weights:
# $x^{(\ell)}=\sigma(W_\ell x^{(\ell-1)}+b_\ell)$, $\ell=1..L$, output $W_{L+1}x^{(L)}+b_{L+1}$.
# Cumulative parameters $W^{(\ell)}=W_\ell\cdots W_1$, $b^{(\ell)}=W_\ell b^{(\ell-1)}+b_\ell$,
# and the cumulative bias in input coordinates $\beta^{(\ell)}=(W^{(\ell)})^{-1}b^{(\ell)}$, so
# that $A^{(\ell)}(x)=W^{(\ell)}(x+\beta^{(\ell)})$. The truncation map (Chen & Muñoz Ewald,
# arXiv:2405.07098, eq. (1), here for invertible $W$)
#
# $$\tau_{W,\beta}(x)=W^{-1}\big(\sigma(W(x+\beta))-W\beta\big)=x-\Pi_x(x+\beta),\qquad
# \Pi_x=W^{-1}P_xW,\quad P_x=\mathrm{diag}\,[W(x+\beta)<0].$$
#
# *Adapted* weights are read here as **positive diagonal** cumulative weights: $W^{-1}PW=P$ for
# every coordinate projection $P$ holds exactly for diagonal $W$, and positivity makes
# $\tau(x)_i=\max(x_i,\theta_i)$ with the threshold $\theta=-\beta$ (the paper's own definition
# of "adapted" is not known to us). With labels pulled back to the input layer,
# $\bar y_j=(A^{(L+1)})^{-1}y_{\omega(j)}$, the input-layer cost is
# $C_{\rm in}=\frac1{2N}\sum_j|T(x_j)-\bar y_j|^2$ and its Euclidean gradient flow in $\theta$ is
#
# $$\textbf{(E1)}\qquad \dot\theta_i=-\frac1N\sum_{j\in T_i(s)}(\theta_i-\bar y_{j,i})
# =-\frac{|T_i(s)|}{N}\big(\theta_i-\langle\bar y_i\rangle_{T_i(s)}\big),\qquad
# T_i(s)=\{j:\ x_{j,i}<\theta_i(s)\}.$$
#
# With the standard output cost the same flow carries the metric
# $G=W^{(L+1)\top}W^{(L+1)}$: **(E2)** $\dot\theta=-\frac1N\sum_jP_jG(\tau(x_j)-\bar y_j)$.
#
# **Fixture: one network per cluster.** Two clusters in $\mathbb R^2$, $N(\mu_\alpha,0.3^2I)$,
# $n$ points each, with pulled-back targets "beyond" each cluster,
# $\bar y_\alpha=\mu_\alpha+1.5\,(1,1)$. One adapted network has one threshold per coordinate
# ($T(x)=\max(x,\hat\theta)$, Sec. 1), so it cannot give each cluster its own truncation. The
# claims of Secs. 3–7 are therefore stated **per cluster**: cluster $\alpha$ is trained by its
# own one-hidden-layer adapted network on its own $n$ points, so $N=n$ in (E1) and every rate
# below is $k/n$. Each threshold starts between the two lowest coordinates of its cluster
# (exactly one point truncated per coordinate at $s=0$). What one shared network does to two
# clusters is Sec. 8.

# %%
mus = np.array([[0.0, 0.0], [3.0, -1.0]])
labels = np.repeat([0, 1], N_PER_CLUSTER)
n = N_PER_CLUSTER
X = mus[labels] + SPREAD * rng.standard_normal((labels.size, 2))
Ybar = mus[labels] + 1.5
targets = mus + 1.5
Xa = [X[labels == a] for a in range(2)]                  # cluster a, its own network (N = n)
Ya = [Ybar[labels == a] for a in range(2)]
theta0 = np.array([np.sort(Xa[a], axis=0)[:2].mean(axis=0) for a in range(2)])
beyond = all((Ya[a] > Xa[a]).all() for a in range(2))
print(f"two clusters of n = {n} points; targets beyond every point: {beyond}")

# %% [markdown]
# ## 1. Representation identity and depth [ours]
#
# *Claim.* $x^{(L+1)}=A^{(L+1)}(\tau^{(L)}\circ\cdots\circ\tau^{(1)}(x))$ with
# $\tau^{(\ell)}=\tau_{W^{(\ell)},\beta^{(\ell)}}$ and
# $\beta^{(\ell)}=\sum_{k\le\ell}(W^{(k)})^{-1}b_k$; each $\Pi_x$ is an oblique projector.
# This is the "chain of truncations in input space followed by one affine map" on which the
# cumulative variables of the abstract rest. These are identities of the algebra: the checks
# below are **consistency** checks of our derivation and code, not evidence for the paper.
# *Derivation* (sympy, two layers, $M=2$, fully symbolic weights and biases, on fixed
# activation patterns): $\sigma\circ A^{(\ell)}=A^{(\ell)}\circ\tau^{(\ell)}$, the sum formula for
# $\beta^{(2)}$, and the two-layer network.

# %%
sym_two = srf.two_layer_identities((1, 0), (0, 1))
sym_proj = srf.projector_identities((1, 0))
print("beta^(2) =")
display(sym_two["beta2"])
print("Pi for P = diag(1, 0) =")
display(sym_proj["Pi"])
sym_ok_1 = all(sym_two[k] for k in ("layer1_ok", "layer2_ok", "beta2_ok", "network_ok")) \
    and sym_proj["idempotent_ok"]
print("symbolic identities hold:", sym_ok_1)

# %% [markdown]
# *Numerics.* Random $W_\ell=N(0,1)+2I$, $M=3$, $L=3$ hidden layers plus the output layer,
# 200 random inputs. **Depth in the adapted case:** with positive diagonal hidden weights the
# $L$ truncations collapse to one threshold per coordinate, the largest,
# $T(x)=\max(x,\max_\ell\theta^{(\ell)})$; depth adds nothing to the map (only the largest
# threshold of a coordinate receives a gradient). Checked against the forward pass of random
# positive diagonal networks ($L=4$); for contrast, the map with the last layer's threshold
# alone, $\max(x,\theta^{(L)})$, is also evaluated.

# %%
M1, L1 = 3, 3
Ws1 = [rng.standard_normal((M1, M1)) + 2 * np.eye(M1) for _ in range(L1 + 1)]
bs1 = [rng.standard_normal(M1) for _ in range(L1 + 1)]
X1 = 2 * rng.standard_normal((200, M1))
Wc1, _, beta1 = rf.cumulative_parameters(Ws1, bs1)
out_err = np.abs(rf.forward(Ws1, bs1, X1) - rf.representation(Ws1, bs1, X1)).max()
beta_err = np.abs(beta1 - rf.cumulative_bias_sum(Ws1, bs1)).max()
Z = X1
proj_err = 0.0
for W, b in zip(Wc1[:-1], beta1[:-1]):
    Pi = rf.truncation_projector(W, b, Z)
    proj_err = max(proj_err, np.abs(Pi @ Pi - Pi).max())
    Z = rf.truncation_map(W, b, Z)
depth_err, last_only_err = 0.0, 0.0
for _ in range(5):
    Wd = [np.diag(rng.uniform(0.5, 2.0, M1)) for _ in range(4)]
    Wd.append(rng.standard_normal((M1, M1)) + 2 * np.eye(M1))
    bd = [rng.standard_normal(M1) for _ in range(5)]
    ref = rf.forward(Wd, bd, X1)
    depth_err = max(depth_err, np.abs(ref - rf.diagonal_depth_map(Wd, bd, X1)).max())
    Wcd, _, betad = rf.cumulative_parameters(Wd, bd)
    last_only = (np.maximum(X1, -betad[-2]) + betad[-1]) @ Wcd[-1].T
    last_only_err = max(last_only_err, np.abs(ref - last_only).max())
print(f"|forward - A(T(x))| = {out_err:.1e}, |beta - sum formula| = {beta_err:.1e}, "
      f"|Pi^2 - Pi| = {proj_err:.1e}")
print(f"diagonal L=4 nets: |forward - A(max(x, max_l theta_l))| = {depth_err:.1e}; "
      f"last layer's threshold alone: {last_only_err:.2f}")

# %%
ledger.check("1a", "[ours] forward(x) = A^(L+1)(T(x)) (M=3, L=3): max error", out_err, 1e-10,
             relation="le", source=RECON + "; arXiv:2405.07098 eq. (1)", noise_floor=1e-12,
             kind="consistency")
ledger.check("1b", "[ours] beta^(l) = sum_k (W^(k))^-1 b_k: max error", beta_err, 1e-10,
             relation="le", source=RECON, noise_floor=1e-12, kind="consistency")
ledger.check("1c", "[ours] Pi_x^2 = Pi_x on every layer and point: max error", proj_err, 1e-10,
             relation="le", source=RECON, noise_floor=1e-12, kind="consistency")
ledger.check("1d", "[ours] sympy: sigma o A = A o tau, beta^(2) formula, 2-layer net, Pi^2 = Pi",
             sym_ok_1, True, relation="true", source=RECON, kind="consistency")
ledger.check("1e", "[ours] adapted depth map: diagonal net = A(max(x, max_l theta_l)), max error",
             depth_err, 1e-10, relation="le", source=RECON, noise_floor=1e-12,
             kind="consistency")

# %% [markdown]
# ## 2. Effective versus true gradient [paper, abstract (paraphrased): explicit equations for
# the cumulative biases and weights; ours: the equations]
#
# ### 2a. Gradients of the input-layer cost
# *Derivation.* On a fixed truncation region each $\max$ is one of its branches. In 1-D with
# $N=3$ and the region $x_1<x_2<\theta<x_3$ the cost and its gradient are:

# %%
reg = srf.flow_on_region(3, 2)
display(sp.Eq(sp.Symbol("C_region"), reg["cost_region"]))
display(sp.Eq(sp.Symbol("dC/dtheta"), reg["gradient"]))

# %% [markdown]
# For general $W$, $d\tau/d\beta=-\Pi_x$ and, using $d\Pi=W^{-1}[P,\,dW\,W^{-1}]W$ (checked
# entry by entry in sympy),
# $\nabla_\beta C_{\rm in}=-\frac1N\sum_j\Pi_j^\top r_j$ and
# $\nabla_W C_{\rm in}=-\frac1N\sum_j\big[P_ja_ju_j^\top-a_j(\Pi_ju_j)^\top\big]$ with
# $a_j=W^{-\top}r_j$, $u_j=x_j+\beta$ (backpropagated through the chain of truncations).
# For **diagonal** $W$ the diagonal of $\nabla_W C_{\rm in}$ vanishes, but not the off-diagonal:
# the diagonal (adapted) form is *not* invariant under the full flow (Sec. 9 shows what follows).
#
# *Check.* Each closed form against central finite differences of the cost (step $10^{-6}$, at
# points farther than that from every kink). The alternatives quoted in the ledger are the
# formulas one would write without the reconstruction: (E1) summed over *all* points instead
# of the truncated ones; the coordinate projector $P_x$ in place of the oblique $\Pi_x$ (i.e.
# treating a general $W$ as adapted); $\nabla_W$ without the $d\Pi$ term.

# %%
print("sympy: d Pi formula holds:", sym_proj["derivative_ok"],
      "| closed-form grad_W holds:", sym_proj["gradient_ok"])
print("grad_W C for diagonal W (one point, pattern diag(1,0)):")
display(sym_proj["gradient_diagonal_W"])


# %%
def naive_chain_gradients(Wc, betas, X, Ybar):
    """Alternatives: P_x instead of Pi_x in grad_beta; grad_W without the dPi term."""
    inputs, Zc = [], X
    for W, beta in zip(Wc, betas):
        inputs.append(Zc)
        Zc = rf.truncation_map(W, beta, Zc)
    g = (Zc - Ybar) / X.shape[0]
    gW, gb = np.zeros_like(Wc), np.zeros_like(betas)
    for l in range(len(Wc) - 1, -1, -1):
        U = inputs[l] + betas[l]
        P = (U @ Wc[l].T < 0).astype(float)
        A = np.linalg.solve(Wc[l].T, g.T).T
        gb[l] = -(P * g).sum(axis=0)                       # P_x in place of Pi_x
        gW[l] = -(P * A).T @ U                             # no dPi term
        g = g - (P * A) @ Wc[l]
    return gW, gb


h = 1e-6
# (i) thresholds, diagonal case (E1), cluster 0 with its own network, away from kinks
theta_fd = theta0[0] + 0.173
g_theta = -rth.effective_velocity(theta_fd, Xa[0], Ya[0])
fd_theta = central_difference(lambda t: rth.diagonal_cost(t, Xa[0], Ya[0]), theta_fd, h)
err_theta = np.abs(fd_theta - g_theta).max() / np.abs(g_theta).max()
g_all = ((theta_fd - Ya[0]) / n).sum(axis=0)             # alternative: every point counted
alt_theta = np.abs(fd_theta - g_all).max() / np.abs(fd_theta).max()
margin_theta = np.abs(Xa[0] - theta_fd).min()
# (ii) cumulative biases and weights, general W, three truncation layers
Ybar1 = rng.standard_normal((200, M1))
Wh, bh = Wc1[:-1], beta1[:-1]
margin_chain = rf.kink_margin(Wh, bh, X1)
gW, gb = rf.input_cost_gradients(Wh, bh, X1, Ybar1)
fd_b = central_difference(lambda b: rf.input_cost(Wh, b, X1, Ybar1), bh, h)
fd_W = central_difference(lambda W: rf.input_cost(W, bh, X1, Ybar1), Wh, h)
err_beta = np.abs(fd_b - gb).max() / np.abs(gb).max()
err_W = np.abs(fd_W - gW).max() / np.abs(gW).max()
gW_alt, gb_alt = naive_chain_gradients(Wh, bh, X1, Ybar1)
alt_beta = np.abs(fd_b - gb_alt).max() / np.abs(fd_b).max()
alt_W = np.abs(fd_W - gW_alt).max() / np.abs(fd_W).max()
gW_diag, _ = rf.input_cost_gradients(np.diag([1.3, 0.7])[None], -theta_fd[None], Xa[0], Ya[0])
diag_part = np.abs(np.diag(gW_diag[0])).max()
offdiag_part = np.abs(gW_diag[0] - np.diag(np.diag(gW_diag[0]))).max()
print(f"kink margins: {margin_theta:.2e} (theta), {margin_chain:.2e} (chain) vs step {h:.0e}")
print(f"relative errors: theta {err_theta:.1e}, beta {err_beta:.1e}, W {err_W:.1e}")
print(f"alternatives: all points in (E1) {alt_theta:.2f}; P instead of Pi {alt_beta:.2f}; "
      f"no dPi term {alt_W:.2f}")
print(f"diagonal W: |diag grad_W| = {diag_part:.1e}, |offdiag grad_W| = {offdiag_part:.3f}")

# %%
ledger.check("2a-theta", "[ours] (E1) = -grad_theta C_in vs finite differences: relative error",
             err_theta, 1e-6, relation="le", source=ABSTRACT + " (explicit equations); " + RECON,
             noise_floor=1e-8, kind="evidence",
             alternative=f"(E1) summed over all points, not the truncated ones: {alt_theta:.2f}")
ledger.check("2a-beta", "[ours] grad_beta C_in (general W, 3 layers) vs finite differences",
             err_beta, 1e-6, relation="le", source=ABSTRACT + " (explicit equations); " + RECON,
             noise_floor=1e-8, kind="evidence",
             alternative=f"coordinate projector P_x in place of the oblique Pi_x: {alt_beta:.2f}")
ledger.check("2a-W", "[ours] closed-form grad_W C_in (3 layers) vs finite differences",
             err_W, 1e-6, relation="le", source=ABSTRACT + " (explicit equations); " + RECON,
             noise_floor=1e-8, kind="evidence",
             alternative=f"grad_W without the dPi = W^-1[P, dW W^-1]W term: {alt_W:.2f}")
ledger.check("2a-sym", "[ours] sympy: region gradient (K/N)(theta-ybar), dPi, grad_W, "
             "diag(grad_W) = 0 for diagonal W",
             reg["gradient_ok"] and sym_proj["derivative_ok"] and sym_proj["gradient_ok"]
             and sym_proj["diagonal_vanishes_ok"], True, relation="true", source=RECON,
             kind="consistency")

# %% [markdown]
# ### 2b. The flow that per-layer gradient descent actually induces
#
# The abstract speaks of gradient descent *in the cumulative variables* with a Euclidean
# input-layer cost; a network is, however, trained in its per-layer parameters. Since
# $\beta^{(\ell)}=\sum_{k\le\ell}(W^{(k)})^{-1}b_k$ is linear in the biases, gradient flow on
# $(b_1,\dots,b_L)$ with frozen weights induces
# $\dot\theta=-JJ^\top\nabla_\theta C_{\rm in}$ with the block metric
# $(JJ^\top)_{\ell\ell'}=\sum_{k\le\min(\ell,\ell')}(W^{(k)})^{-1}(W^{(k)})^{-\top}$. Reading (E),
# the Euclidean flow in $\theta$, and reading (P), the per-layer flow, have the **same
# equilibria** ($JJ^\top$ is positive definite, so $JJ^\top\nabla C=0$ iff $\nabla C=0$) but,
# unless $JJ^\top$ is a multiple of $I$, **different orbits**, not only different speeds
# (claim 2d). Sympy, two scalar layers (and one scalar layer with $w$ and $b$ both trained):

# %%
sym_metric = srf.scalar_metric_factor()
print("J J^T =")
display(sym_metric["JJt"])
print("one scalar layer, (w, b) both trained: theta' = -(metric factor) C'(theta) with factor")
display(sym_metric["metric_factor"])

# %% [markdown]
# *Simulation.* $L=2$ diagonal hidden layers, frozen; plain GD ($\eta=10^{-4}$) on $b_1,b_2$ of
# the network cost $C_{\rm in}$ computed by ordinary backpropagation through the ReLU network
# (no truncation formalism), on both clusters; $\dot\theta$ is estimated by finite differences
# along the GD trajectory and compared with $-JJ^\top\nabla_\theta C_{\rm in}$ computed from the
# truncation chain. The alternative is reading (E), $\dot\theta=-\nabla_\theta C_{\rm in}$.

# %%
# NBVAL_IGNORE_OUTPUT
lr_b = 1e-4
Ws2 = [np.diag([1.5, 0.8]), np.diag([0.6, 1.2]), np.array([[2.0, 0.5], [0.0, 0.7]])]
bs2 = [np.array([0.3, 0.3]), np.array([0.2, -0.4]), np.zeros(2)]
run_b = rtr.gradient_descent_biases(Ws2, bs2, X, Ybar, lr=lr_b, steps=GD_STEPS, progress=True)
thetas_b = rf.induced_thresholds(Ws2[:-1], run_b.snapshots)      # theta^(l) = -beta^(l)
Wc2, _, _ = rf.cumulative_parameters(Ws2, bs2)
JJ = rf.bias_metric(Ws2[:-1])
rel_err_b, rel_err_E = 0.0, 0.0
for t in range(GD_STEPS):
    _, gb_t = rf.input_cost_gradients(Wc2[:-1], -thetas_b[t], X, Ybar)
    predicted = JJ @ gb_t.ravel()                 # -J J^T grad_theta, grad_theta = -grad_beta
    measured = (thetas_b[t + 1] - thetas_b[t]).ravel() / lr_b
    rel_err_b = max(rel_err_b, np.linalg.norm(measured - predicted) / np.linalg.norm(predicted))
    rel_err_E = max(rel_err_E, np.linalg.norm(measured - gb_t.ravel())
                    / np.linalg.norm(measured))

# %%
print(f"max relative error along {GD_STEPS} steps: induced flow -J J^T grad C {rel_err_b:.1e}; "
      f"reading (E), -grad C: {rel_err_E:.2f}")

# %% [markdown]
# ### 2c–2d. Rates and orbits of the two readings
#
# With one hidden layer $W_1=\mathrm{diag}(w)$ and the cluster fully truncated, (E1) decays at
# rate $n/N$ in every coordinate, so its orbit is the straight segment from $\theta(0)$ to
# $\bar y$. The per-layer bias flow decays at $r_i=(n/N)/w_i^2$ in coordinate $i$, so its orbit
# is the curve $\theta_i-\bar y_i=(\theta_i(0)-\bar y_i)e^{-r_is}$: same end point, different
# path. We run GD on $b_1$ ($\eta=10^{-3}$, 3000 steps) for cluster 0 alone ($N=n$) and
# measure (2c) the per-coordinate rates, whose discrete prediction is
# $-\ln(1-\eta r_i)/\eta$ (the per-step factor of GD; it tends to $r_i$), and (2d) the largest
# distance of the GD orbit from the straight segment of (E1), predicted from the closed-form
# curve.

# %%
w_diag = np.array([2.0, 0.5])
theta_full = Xa[0].max(axis=0) + 0.05                 # every point truncated, below the target
Ws3 = [np.diag(w_diag), np.eye(2)]
bs3 = [w_diag * (-theta_full), np.zeros(2)]           # theta = -b / w
lr3, steps3 = 1e-3, 3000
run3 = rtr.gradient_descent_biases(Ws3, bs3, Xa[0], Ya[0], lr=lr3, steps=steps3)
thetas3 = rf.induced_thresholds(Ws3[:-1], run3.snapshots)
err3 = np.abs(thetas3[:, 0, :] - targets[0])
rate_P = -np.log(err3[-1] / err3[0]) / (lr3 * steps3)             # measured per-layer rate
rate_P_pred = -np.log(1 - lr3 / w_diag**2) / lr3                   # GD per-step factor (n/N = 1)
print("per-layer rates:", ", ".join(f"{r:.4f}" for r in rate_P), "| predicted (n/N)/w^2:",
      ", ".join(f"{r:.4f}" for r in 1 / w_diag**2), "| (E1) rate n/N = 1")


def distance_to_segment(P, a, b):
    """Distance of each row of P from the segment [a, b]."""
    d = b - a
    lam = np.clip((P - a) @ d / (d @ d), 0.0, 1.0)
    return np.linalg.norm(P - (a + lam[:, None] * d), axis=1)


e0 = theta_full - targets[0]
s_fine = np.linspace(0.0, 60.0, 60_001)
curve = targets[0] + e0 * np.exp(-np.outer(s_fine, 1 / w_diag**2))      # closed-form orbit (P)
orbit_pred = distance_to_segment(curve, theta_full, targets[0]).max()
orbit_meas = distance_to_segment(thetas3[:, 0, :], theta_full, targets[0]).max()
print(f"largest distance of the per-layer orbit from the (E1) segment: measured "
      f"{orbit_meas:.4f}, closed form {orbit_pred:.4f}; equilibria: both at ybar = {targets[0]}")

# %%
ledger.check("2b", "[ours] per-layer bias GD induces theta' = -J J^T grad C_in: max rel. error",
             rel_err_b, 1e-3, relation="le", source=RECON, noise_floor=1e-8, kind="evidence",
             alternative=f"reading (E), theta' = -grad C_in (J J^T = I): {rel_err_E:.2f}")
ledger.check("2c", "[ours] per-layer GD rate vs (n/N)/w_i^2 (discrete form): worst |ratio - 1|",
             float(np.max(np.abs(rate_P / rate_P_pred - 1))), 0.01, relation="le",
             source=RECON, noise_floor=1e-6, kind="evidence",
             alternative="the (E1) rate n/N = 1 in both coordinates: |ratio - 1| = "
                         f"{np.max(np.abs(1 / rate_P_pred - 1)):.2f}")
ledger.check("2d", "[ours] orbits differ: max distance of the per-layer GD orbit from the (E1) "
             "segment vs closed-form curve", orbit_meas, orbit_pred, rtol=0.02, source=RECON,
             digits=4, kind="evidence",
             alternative="same orbits up to a time change (as when J J^T = c I): distance 0")

# %% [markdown]
# ## 3. Monotone truncation [paper, abstract (paraphrased): clusters lose geometric complexity
# step by step; ours: the statement and its condition]
#
# *Claim* (per cluster, each with its own network). With targets beyond the cluster,
# $\theta_i$ increases, $|T_i(s)|$ never decreases and the number of active points (not yet
# fully truncated) never increases. *Simulation.* (E1) integrated with `solve_ivp` (RK45,
# rtol $10^{-10}$, atol $10^{-12}$), stopping at every kink with a terminal event and restarting
# with the new truncation pattern; the dense output is read on a grid of $\ge10^4$ times.

# %%
s_grid = np.linspace(0.0, S_END, GRID)
flows = [rth.integrate_threshold_flow(Xa[a], Ya[a], theta0[a], S_END, s_eval=s_grid)
         for a in range(2)]
theta_t = np.stack([f.theta[:, 0] for f in flows], axis=1)      # (time, cluster, coordinate)
P_t = X[None] < theta_t[:, labels, :]                            # (time, point, coordinate)
counts_T = np.stack([P_t[:, labels == a, :].sum(axis=1) for a in range(2)], axis=1)  # (t,a,i)
active = np.stack([(~P_t[:, labels == a].all(axis=2)).sum(axis=1) for a in range(2)], axis=1)
viol_T = int(np.sum(np.diff(counts_T, axis=0) < 0))
viol_active = int(np.sum(np.diff(active, axis=0) > 0))
n_kinks = sum(len(f.events) for f in flows)
print(f"{n_kinks} kinks; |T_i| decreases: {viol_T}; active count increases: {viol_active}; "
      f"active at the end: {active[-1].tolist()}")

# %% [markdown]
# *Negative control.* Put the target of one coordinate of cluster 0 *inside* the cluster and
# start the threshold above every point: $\theta$ now moves **down** through the data and
# points are *un*-truncated; no full collapse, and the loss stays positive.

# %%
Y_ctrl = Ya[0].copy()
Y_ctrl[:, 0] = np.median(Xa[0][:, 0])
theta_ctrl = theta0[0].copy()
theta_ctrl[0] = Xa[0][:, 0].max() + 0.1
flow_ctrl = rth.integrate_threshold_flow(Xa[0], Y_ctrl, theta_ctrl, S_END, s_eval=s_grid)
cnt_ctrl = (Xa[0][:, 0][None] < flow_ctrl.theta[:, 0, 0][:, None]).sum(axis=1)
drops_ctrl = int(np.sum(np.diff(cnt_ctrl) < 0))
Z_ctrl = np.maximum(Xa[0][None], flow_ctrl.theta[:, 0][:, None, :])
V_ctrl = rth.within_cluster_spread(Z_ctrl, np.zeros(n, dtype=int))[:, 0]
cost_ctrl = 0.5 * np.sum((Z_ctrl - Y_ctrl) ** 2, axis=(1, 2)) / n
print(f"control: |T_1| goes {cnt_ctrl[0]} -> {cnt_ctrl[-1]} with {drops_ctrl} decreases; "
      f"spread rises by up to {np.max(np.diff(V_ctrl)):.1e} per grid step and ends at "
      f"{V_ctrl[-1]:.3f}; C_in(end)/C_in(0) = {cost_ctrl[-1] / cost_ctrl[0]:.3f}")

# %%
ledger.check("3a", "[ours] targets beyond, per cluster: decreases of |T_i(s)| on the grid",
             viol_T, 0, relation="le", source=ABSTRACT + " (step by step); " + RECON,
             kind="evidence",
             alternative=f"a target inside the cluster (control 3c): {drops_ctrl} decreases")
ledger.check("3b", "[ours] targets beyond, per cluster: increases of the active-point count",
             viol_active, 0, relation="le", source=RECON, kind="evidence",
             alternative="points released as in the control (3c) would raise the count")
ledger.check("3c", "[ours] control, target inside the cluster: un-truncation events (>= 1)",
             drops_ctrl, 1, relation="ge", source=RECON + " (negative control)",
             kind="evidence",
             alternative="unconditionally monotone truncation: 0 un-truncation events")

# %% [markdown]
# ## 4. Exponential rate = (number truncated)/N, crossing times [paper, abstract
# (paraphrased): the rate is exponential and increases with the number of points already
# truncated; ours: the rate $k/N$ and the formulas]
#
# *Derivation.* On a region with $K$ truncated points the flow is linear; sympy's `dsolve`
# and `solve` give the solution and the time at which the next point is reached:

# %%
display(reg["ode"])
display(sp.Eq(sp.Function("theta")(reg["symbols"]["s"]), reg["solution"]))
display(sp.Eq(sp.Symbol("s_cross"), reg["crossing_time"]))
print("solution and crossing time as expected:", reg["solution_ok"] and reg["crossing_ok"])

# %% [markdown]
# Hence, for a common target $\bar y_i$ beyond the cluster and sorted data
# $x_{(1)}<\dots<x_{(n)}$: $\theta_i(s)-\bar y_i=(\theta_i(s_k)-\bar y_i)e^{-(k/N)(s-s_k)}$
# while $k$ points are truncated, and
# $s_{k+1}-s_k=\frac Nk\ln\frac{\bar y_i-\theta_i(s_k)}{\bar y_i-x_{(k+1)}}$.
#
# *Simulation, independent of (E1).* Each cluster's network ($W_1=I$, output layer $I$, so
# $\theta=-b_1$ and $JJ^\top=I$) is trained by plain GD on $b_1$ with the gradient of the network
# cost computed by backpropagation through the ReLU layer ($\eta=10^{-3}$, up to 0.5 past the
# last closed-form crossing time). On
# every interval on which the truncation count $k$ of a coordinate is constant we fit the
# slope of $\log|\theta_i-\bar y_i|$ (4a), read the step at which each point is truncated (4b),
# and regress the fitted rates on $k$ (4c). The alternative is a plain exponential, a rate
# that does not depend on $k$.

# %%
closed_cross = {(a, i): rth.crossing_times_beyond(Xa[a][:, i], targets[a, i], theta0[a, i], n)
                for a in range(2) for i in range(2)}
S_NET = np.ceil(10 * (max(c[-1] for c in closed_cross.values()) + 0.5)) / 10
steps_net = int(round(S_NET / LR_NET))
s_net = LR_NET * np.arange(steps_net + 1)
net_theta = []
for a in range(2):
    run_a = rtr.gradient_descent_biases([np.eye(2), np.eye(2)], [-theta0[a], np.zeros(2)],
                                        Xa[a], Ya[a], lr=LR_NET, steps=steps_net)
    net_theta.append(rf.induced_thresholds([np.eye(2)], run_a.snapshots)[:, 0, :])
net_theta = np.stack(net_theta, axis=1)                          # (step, cluster, coordinate)
seg_k, seg_rate, slope_dev, time_dev, time_dev_const = [], [], 0.0, 0.0, 0.0
for a in range(2):
    for i in range(2):
        x_ai, th, yb = Xa[a][:, i], net_theta[:, a, i], targets[a, i]
        k_t = (x_ai[None] < th[:, None]).sum(axis=1)
        dist = np.abs(th - yb)
        for k in np.unique(k_t):
            on = (k_t == k) & (dist > 1e-12)
            if on.sum() >= 3:
                rate = -log_linear_fit(s_net[on], dist[on]).slope
                seg_k.append(k / n)
                seg_rate.append(rate)
                slope_dev = max(slope_dev, abs(rate / (k / n) - 1))
        closed = closed_cross[a, i]
        k0 = int(k_t[0])
        measured_cross = np.array([s_net[np.argmax(k_t >= k)] if (k_t >= k).any() else np.inf
                                   for k in range(k0 + 1, n + 1)])
        time_dev = max(time_dev, np.abs(measured_cross - closed).max())
        const = (n / k0) * np.log((yb - theta0[a, i]) / (yb - np.sort(x_ai)[k0:]))
        time_dev_const = max(time_dev_const, np.abs(const - closed).max())
fit = scipy.stats.linregress(seg_k, seg_rate)
fixed_rate = np.mean(seg_rate)                         # the best rate independent of k
const_dev = np.max(np.abs(fixed_rate / np.array(seg_k) - 1))
print(f"GD run to s = {S_NET:g}; {len(seg_k)} segments; "
      f"max |fitted rate / (k/n) - 1| = {slope_dev:.1e} "
      f"(one k-independent rate: {const_dev:.2f})")
print(f"crossing times: max |GD - closed form| = {time_dev:.1e} (eta = {LR_NET:g}); "
      f"plain exponential at the initial rate: {time_dev_const:.2f}")
print(f"regression of fitted rate on k/n: slope {fit.slope:.4f} +- {fit.stderr:.1e}, "
      f"intercept {fit.intercept:.1e} (predicted 1 and 0)")

# %%
ledger.check("4a", "[ours] network GD: fitted rate of log|theta_i - ybar_i| vs k/N per segment, "
             "max relative deviation", slope_dev, 0.01, relation="le",
             source=ABSTRACT + " (exponential rate); " + RECON, noise_floor=1e-4,
             kind="evidence",
             alternative=f"one rate independent of k (plain exponential): {const_dev:.2f}")
ledger.check("4b", "[ours] network GD truncation times vs closed-form crossing times: max |diff|",
             time_dev, 3 * LR_NET, relation="le", source=RECON,
             noise_floor=1e-6, kind="evidence",
             alternative=f"plain exponential at the initial rate: {time_dev_const:.2f}")
ledger.check("4c", "[ours] the rate grows by 1/N with every truncated point: slope of the "
             "fitted rate vs k/N", fit.slope, 1.0, rtol=0.01,
             source=ABSTRACT + " (rate grows with the number truncated); " + RECON, digits=4,
             kind="evidence", alternative="a rate independent of the number truncated: slope 0")

# %% [markdown]
# ### Figure: transport in input space

# %%
def plot_transport(ax, s_value):
    idx = np.searchsorted(s_grid, s_value)
    th = theta_t[idx]
    Z_s = np.maximum(X, th[labels])
    P_s = X < th[labels]
    full = P_s.all(axis=1)
    part = P_s.any(axis=1) & ~full
    colors = np.array(["tab:blue", "tab:orange"])[labels]
    ax.scatter(X[:, 0], X[:, 1], s=12, c="lightgray", zorder=1)
    ax.scatter(Z_s[~P_s.any(1), 0], Z_s[~P_s.any(1), 1], s=22, c=colors[~P_s.any(1)],
               zorder=3, label="active")
    ax.scatter(Z_s[part, 0], Z_s[part, 1], s=30, facecolors="none",
               edgecolors=colors[part], zorder=3, label="truncated in one coordinate")
    ax.scatter(Z_s[full, 0], Z_s[full, 1], s=40, marker="x", c=colors[full], zorder=4,
               label="fully truncated (at apex)")
    for a, col in enumerate(["tab:blue", "tab:orange"]):
        ax.plot([th[a, 0], th[a, 0], th[a, 0] + 3], [th[a, 1] + 3, th[a, 1], th[a, 1]],
                color=col, lw=0.8, ls="--")           # edges of the cone, apex theta
        ax.plot(*targets[a], marker="*", ms=11, color=col, mec="k", zorder=5)
    ax.set_title(f"s = {s_value:g}, active {int((~P_s.all(1)).sum())}/{labels.size}")
    ax.set_xlim(-1.0, 5.3)
    ax.set_ylim(-2.2, 2.2)
    ax.set_xlabel("$x_1$")


fig, axes = plotting.figure("triple", ncols=4, sharey=True)
for ax, s_value in zip(axes, [0.0, 0.75, 1.5, 5.0]):
    plot_transport(ax, s_value)
axes[0].set_ylabel("$x_2$")
axes[0].legend(loc="lower left")
plotting.savefig(fig, ledger.notebook, "transport")
plt.show()

# %% [markdown]
# Grey: the data; coloured: their images $T(x_j)$ at flow time $s$ (each cluster through its
# own network); dashed: the faces of the cone with apex $\theta_\alpha(s)$; stars: the targets.
# Points slide onto the faces, then to the apex, which then travels to the target.

# %% [markdown]
# ## 5. Collapse of each cluster [paper, abstract (paraphrased): under suitable conditions a
# cluster is contracted to one point, neural collapse, zero training loss; ours: the metric,
# the condition and the rate]
#
# *Claim.* $|\max(a,\theta)-\max(b,\theta)|$ is non-increasing in $\theta$, so for increasing
# $\theta(s)$ the within-cluster spread $V_\alpha(s)=\mathrm{mean}_j|T(x_j)-\overline{T(x)}|^2$
# is non-increasing, and it is exactly $0$ after the last crossing time $s_n$. The cost then
# decays like $|\theta-\bar y|^2$: the late slope is $-n/N$ for $\log\sqrt{C_{\rm in}}$ and
# $-2n/N$ for $\log C_{\rm in}$ ($=-1$ and $-2$ here, $N=n$). The alternative for every row is
# the negative control of Sec. 3 (a target inside the cluster), where none of this happens.

# %%
Z_t = np.maximum(X[None], theta_t[:, labels, :])
V = rth.within_cluster_spread(Z_t, labels)                         # (time, cluster)
V_increase = float(np.max(np.diff(V, axis=0)))
s_n = max(f.event_times(0, i).max() for f in flows for i in range(2))
V_after = float(V[s_grid > s_n].max())
cost_t = np.stack([0.5 * np.sum((Z_t[:, labels == a] - Ya[a]) ** 2, axis=(1, 2)) / n
                   for a in range(2)], axis=1)                    # (time, cluster)
slopes_sqrt, slopes_cost = [], []
for a in range(2):
    late = (cost_t[:, a] > 1e-16) & (cost_t[:, a] < 1e-6)
    slopes_cost.append(log_linear_fit(s_grid[late], cost_t[late, a]).slope)
    slopes_sqrt.append(log_linear_fit(s_grid[late], np.sqrt(cost_t[late, a])).slope)
slope_sqrt, slope_cost = max(slopes_sqrt, key=abs), max(slopes_cost, key=abs)
loss_ratio = float(np.max(cost_t[-1] / cost_t[0]))
print(f"max increase of V: {V_increase:.1e}; max V after s_n = {s_n:.3f}: {V_after:.1e}")
print(f"late slopes of log sqrt(C_in): {np.round(slopes_sqrt, 5)} (-n/N = -1); "
      f"of log C_in: {np.round(slopes_cost, 5)} (-2n/N = -2)")
print(f"C_in(s_end)/C_in(0) = {loss_ratio:.1e} at s = {S_END:g}")

# %%
ledger.check("5a", "[ours] within-cluster spread V(s): largest increase on the grid",
             V_increase, 1e-12, relation="le", source=RECON, noise_floor=1e-14,
             kind="evidence",
             alternative=f"target inside (control): V rises by {np.max(np.diff(V_ctrl)):.1e}")
ledger.check("5b", "[paper] a cluster is contracted to a single point (ours: targets beyond "
             "it): V(s) after the last crossing time s_n", V_after, 1e-10, relation="le",
             source=ABSTRACT + " (neural collapse); " + RECON, noise_floor=1e-14,
             kind="evidence", alternative=f"target inside (control): V ends at {V_ctrl[-1]:.3f}")
ledger.check("5c", "[ours] late slope of log sqrt(C_in) = -n/N (the slower cluster)",
             slope_sqrt, -1.0, rtol=0.01, source=RECON, digits=4, kind="evidence",
             alternative="the initial rate k0/N = 1/n kept to the end: slope "
                         f"{-1 / n:.3f}")
ledger.check("5d", "[ours] late slope of log C_in = 2 x that of log sqrt(C_in) = -2n/N",
             slope_cost, -2.0, rtol=0.01, source=RECON, digits=4, kind="consistency")
ledger.check("5e", "[paper] zero training loss (ours: targets beyond): max over clusters of "
             "C_in(s_end) / C_in(0)",
             loss_ratio, 1e-12, relation="le", source=ABSTRACT + " (zero loss); " + RECON,
             noise_floor=1e-18, kind="evidence",
             alternative=f"target inside (control): {cost_ctrl[-1] / cost_ctrl[0]:.3f}")

# %% [markdown]
# ## 6. Standard cost and the spectral gap [ours: an extension; the abstract poses the cost in
# the input layer and does not discuss the standard cost]
#
# With the standard output cost the flow is (E2) with $G=W^{(L+1)\top}W^{(L+1)}$; once a
# cluster of $n$ points is fully truncated, $\dot\theta=-(n/N)G(\theta-\bar y)$, so a spectral
# gap $\lambda_{\min}(G)>0$ gives exponential convergence at rate $(n/N)\lambda_{\min}(G)$. Solved
# through the eigendecomposition of $G$
# (sympy, symbolic $G$, and the $G$ used here):

# %%
gap_sym = srf.spectral_gap_ode()
W_out = np.array([[2.0, 0.5], [0.0, 0.7]])
G = W_out.T @ W_out
gap_num = srf.spectral_gap_ode(sp.Matrix([[4, 1], [1, sp.Rational(37, 50)]]))
print("ODE residual and initial condition vanish (symbolic G):",
      gap_sym["ode_ok"] and gap_sym["initial_ok"])
print("eigenvalues of G:")
display(sp.Matrix(gap_sym["eigenvalues"]))
print("slowest rate for G = W^T W, W = [[2, .5], [0, .7]]:")
display(gap_num["slowest_rate"])

# %%
S_END6 = 80.0
s6 = np.linspace(0.0, S_END6, GRID)
flows6 = [rth.integrate_threshold_flow(Xa[a], Ya[a], theta0[a], S_END6, metric=G, s_eval=s6)
          for a in range(2)]
rate_pred = rth.spectral_gap_rate(G, n, n)
lam_max = float(np.linalg.eigvalsh(G)[-1])
slopes6, closed_err6 = [], 0.0
for a in range(2):
    th6 = flows6[a].theta[:, 0]
    err6 = np.linalg.norm(th6 - targets[a], axis=1)
    window = (err6 > 1e-9) & (err6 < 1e-2)
    slopes6.append(log_linear_fit(s6[window], err6[window]).slope)
    s_na = max(flows6[a].event_times(0, i).max() for i in range(2))
    after = s6 >= s_na
    closed = rth.spectral_gap_solution(th6[after][0], targets[a], G, 1.0, s6[after] - s6[after][0])
    closed_err6 = max(closed_err6, np.abs(closed - th6[after]).max())
slope6 = max(slopes6)                      # the slower of the two clusters
print(f"fitted slopes {np.round(slopes6, 5)}; predicted -(n/N) lambda_min = {-rate_pred:.5f} "
      f"(Euclidean rate -n/N = -1, -(n/N) lambda_max = {-lam_max:.3f})")
print(f"after full truncation, |theta - closed form| = {closed_err6:.1e}")

# %%
ledger.check("6a", "[ours] (E2) late slope of log|theta - ybar| = -(n/N) lambda_min(G)", slope6,
             -rate_pred, rtol=0.02, source=RECON,
             digits=4, kind="evidence",
             alternative=f"the Euclidean rate of (E1): -1; the top eigenvalue: {-lam_max:.3f}")
ledger.check("6b", "[ours] (E2) after full truncation = eigendecomposition solution: max error",
             closed_err6, 1e-8, relation="le", source=RECON, noise_floor=1e-8,
             kind="consistency")
ledger.check("6c", "[ours] sympy: V exp(-c D s) V^-1 solves theta' = -c G (theta - ybar)",
             gap_sym["ode_ok"] and gap_sym["initial_ok"] and gap_num["ode_ok"], True,
             relation="true", source=RECON, kind="consistency")

# %% [markdown]
# ### Figure: rates (E1 and E2) and the number of active points
# Left: the first kinks of the network GD of Sec. 4 (cluster 0); black, the predicted slopes
# $-k/N$ on each segment of coordinate 1 (offset for visibility). Middle: the whole (E1) run;
# after the last kink every coordinate decays with slope $-n/N=-1$, and with
# $-(n/N)\lambda_{\min}(G)$ under the standard cost (E2). Right: active points (not fully
# truncated) and $|T_1|$ for each cluster; red, the negative control of Sec. 3 (points are
# released).

# %%
fig, axes = plotting.figure("triple", ncols=3)
styles = {(0, 0): ("tab:blue", "-"), (0, 1): ("tab:blue", "--"),
          (1, 0): ("tab:orange", "-"), (1, 1): ("tab:orange", "--")}
ax = axes[0]
for i in range(2):
    ax.semilogy(s_net, np.abs(net_theta[:, 0, i] - targets[0, i]), ls=styles[0, i][1],
                color="tab:blue", label=f"network GD, cluster 0, coordinate {i + 1}")
p = rth.exact_threshold_path(Xa[0][:, 0], Ya[0][:, 0], theta0[0, 0], n)
ends = np.append(p.starts[1:], p.starts[-1] + 1.0)
for n_seg, (k, lo, hi) in enumerate(zip(p.counts, p.starts, ends)):
    seg = np.linspace(lo, hi, 2)
    ax.semilogy(seg, 1.4 * np.abs(p(lo) - targets[0, 0]) * np.exp(-(k / n) * (seg - lo)),
                color="k", lw=0.8, label="slopes $-k/N$ (offset)" if n_seg == 0 else None)
ax.set_xlim(0, S_NET)
ax.set_ylim(0.05, 3)
ax.set_xlabel("flow time $s$")
ax.set_ylabel(r"$|\theta_i(s) - \bar y_i|$")
ax.set_title("early: the rate grows with each truncation")
ax.legend(fontsize=7)
ax = axes[1]
for (a, i), (col, ls) in styles.items():
    dist = np.abs(theta_t[:, a, i] - targets[a, i])
    keep = dist > 1e-9
    ax.semilogy(s_grid[keep], dist[keep], ls=ls, color=col)
err_E2 = np.linalg.norm(flows6[0].theta[:, 0] - targets[0], axis=1)
keep = err_E2 > 1e-9
ax.semilogy(s6[keep], err_E2[keep], color="tab:green",
            label=r"(E2), cluster 0: $|\theta - \bar y|$")
ref = np.linspace(5, 20, 2)
ax.semilogy(ref, 1e-2 * np.exp(-(ref - 5)), "k:", label="slope $-n/N$")
ref = np.linspace(10, 50, 2)
ax.semilogy(ref, 3e-1 * np.exp(-rate_pred * (ref - 10)), "k-.",
            label=r"slope $-(n/N)\lambda_{\min}(G)$")
ax.set_xlim(0, 60)
ax.set_ylim(1e-9, 10)
ax.set_xlabel("flow time $s$")
ax.set_title("late: collapse, then exponential approach")
ax.legend(fontsize=7)
ax = axes[2]
for a, col in enumerate(["tab:blue", "tab:orange"]):
    ax.step(s_grid, active[:, a], where="post", color=col, label=f"cluster {a}: active points")
    ax.step(s_grid, counts_T[:, a, 0], where="post", color=col, ls=":",
            label=f"cluster {a}: $|T_1|$")
ax.step(s_grid, cnt_ctrl, where="post", color="tab:red", ls="--",
        label="control (target inside): $|T_1|$")
ax.set_xlim(0, 4)
ax.set_xlabel("flow time $s$")
ax.set_ylabel("number of points")
ax.set_title("active and truncated points")
ax.legend(fontsize=7)
plotting.savefig(fig, ledger.notebook, "rates_and_counts")
plt.show()

# %% [markdown]
# ## 7. Gradient-descent discretisation [ours]
#
# $\theta\leftarrow\theta-\eta\nabla C_{\rm in}$ contracts the error
# $\theta_i-\langle\bar y_i\rangle_{T_i}$ by exactly $1-\eta k/N$ per step while the pattern is
# fixed; for $\eta k/N>2$ the factor is below $-1$ and the iteration oscillates with growing
# amplitude. These are properties of the GD map of a linear ODE, not of the paper: the rows
# are **consistency** checks of the code.

# %%
lr7 = 0.5
ratio_dev = 0.0
for a in range(2):
    thetas7 = rtr.gradient_descent_thresholds(theta0[a], Xa[a], Ya[a], lr=lr7,
                                              steps=200).snapshots
    for i in range(2):
        th = thetas7[:, 0, i]
        P_before = Xa[a][:, i][None] < th[:-1, None]
        P_after = Xa[a][:, i][None] < th[1:, None]
        k = P_before.sum(axis=1)
        m = np.array([Ya[a][p, i].mean() if p.any() else np.nan for p in P_before])
        keep = (P_before == P_after).all(axis=1) & (k > 0) & (np.abs(th[:-1] - m) > 1e-6)
        ratio = (th[1:][keep] - m[keep]) / (th[:-1][keep] - m[keep])
        ratio_dev = max(ratio_dev, np.abs(ratio - (1 - lr7 * k[keep] / n)).max())
print(f"max |measured ratio - (1 - eta k/N)| = {ratio_dev:.1e}")

# %% [markdown]
# *Divergence control:* cluster 0 fully truncated ($\theta$ above every point, below the
# target), with $\eta n/N=2.5$ (factor $-1.5$).

# %%
lr_bad = 2.5
start_bad = np.maximum(Xa[0].max(axis=0) + 0.02, targets[0] - 0.05)
run_bad = rtr.gradient_descent_thresholds(start_bad, Xa[0], Ya[0], lr=lr_bad, steps=12)
thetas_bad, losses_bad = run_bad.snapshots, run_bad.losses
err_bad = thetas_bad[:, 0, 0] - targets[0, 0]
ratio_bad = err_bad[1] / err_bad[0]
print(f"first-step ratio {ratio_bad:.6f} (1 - eta n/N = {1 - lr_bad:.6f}); "
      f"errors: " + ", ".join(f"{e:+.3f}" for e in err_bad[:6]))
print(f"loss: {losses_bad[0]:.4f} at the start, {losses_bad[-1]:.4f} after 12 steps")

# %%
ledger.check("7a", "[ours] GD error ratio vs 1 - eta k/N: max deviation", ratio_dev, 1e-8,
             relation="le", source=RECON, noise_floor=1e-8, kind="consistency")
ledger.check("7b", "[ours] control eta n/N = 2.5: first-step ratio = 1 - eta n/N", ratio_bad,
             1 - lr_bad, atol=1e-8, source=RECON, digits=6, kind="consistency")
ledger.check("7c", "[ours] control eta n/N = 2.5: |error| grows (ratio of |error| after 3 steps)",
             abs(err_bad[3] / err_bad[0]), 1.0, relation="ge", source=RECON,
             kind="consistency")

# %% [markdown]
# The oscillation grows until the threshold overshoots below the cluster; then $T_i=\emptyset$
# and the threshold freezes (a dead bias): the loss stays far from zero.
#
# ## 8. One shared network for two clusters; the dead bias [paper, abstract (paraphrased):
# several types of solutions are discussed; ours: which ones]
#
# *Separated* clusters, each with its own network, decouple: each follows the solution of
# Secs. 3–5 with its own $k_\alpha/N$. With **one** adapted network for two *overlapping*
# clusters (cluster 0 near $(0,0)$, cluster 1 near $(0.5,3)$, sharing the first coordinate),
# by (E1) each threshold tracks the mean target of its currently truncated points and
# converges to the self-consistent value $\theta_i^*=\langle\bar y_i\rangle_{T_i(\theta^*)}$;
# in the second coordinate it stops at cluster 0's target, below cluster 1, which is never
# truncated there. Predictions, computed without `solve_ivp` from the exact piecewise-
# exponential path of each coordinate: the final truncated sets, the limit $\theta^*$, and the
# loss $C_{\rm in}(\theta^*)>0$. A lower bound needs no flow at all: the untruncated second
# coordinate of cluster 1 keeps its residuals, $C_{\rm in}\ge\frac1{2N}\sum_{j\in1}
# (x_{j,2}-\bar y_{j,2})^2$.

# %%
mus8 = np.array([[0.0, 0.0], [0.5, 3.0]])
X8 = mus8[labels] + SPREAD * rng.standard_normal((labels.size, 2))
Ybar8 = mus8[labels] + 1.5
N8 = labels.size
theta8 = np.sort(X8, axis=0)[:2].mean(axis=0)          # one shared threshold
S_END8 = 120.0
flow8 = rth.integrate_threshold_flow(X8, Ybar8, theta8, S_END8, s_eval=[0.0, S_END8])
theta_final = flow8.theta[-1, 0]
final_sets = X8 < theta_final
self_consistent = np.array([Ybar8[final_sets[:, i], i].mean() for i in range(2)])
limit_err = np.abs(theta_final - self_consistent).max()
alt_limit = np.abs(theta_final - Ybar8.mean(axis=0)).max()
paths8 = [rth.exact_threshold_path(X8[:, i], Ybar8[:, i], theta8[i], N8) for i in range(2)]
theta_pred = np.array([p.limit for p in paths8])
sets_pred = X8 < theta_pred
loss8 = rth.diagonal_cost(theta_final, X8, Ybar8)
loss_pred = rth.diagonal_cost(theta_pred, X8, Ybar8)
loss_floor = 0.5 * np.sum((X8[labels == 1, 1] - Ybar8[labels == 1, 1]) ** 2) / N8
set2_is_cluster0 = bool(np.array_equal(final_sets[:, 1], labels == 0))
spread8 = rth.within_cluster_spread(np.maximum(X8, theta_final), labels)
print(f"final truncated sets: coord 1 {final_sets[:, 0].sum()} points, coord 2 "
      f"{final_sets[:, 1].sum()} points (exactly cluster 0: {set2_is_cluster0}); same as the "
      f"exact path: {bool(np.array_equal(final_sets, sets_pred))}")
print(f"|theta(s_end) - <ybar>_T| = {limit_err:.1e} (mean target of all points: {alt_limit:.2f})")
print(f"loss {loss8:.6f}; exact-path prediction {loss_pred:.6f}; lower bound {loss_floor:.6f}; "
      f"spreads {spread8[0]:.1e}, {spread8[1]:.3f}")

# %% [markdown]
# *Dead bias.* A threshold that starts below the whole cluster has $T_i=\emptyset$, so
# $\dot\theta_i=0$: it never moves, whatever the target (a property of (E1) by construction).

# %%
theta_dead = theta0[1].copy()
theta_dead[1] = Xa[1][:, 1].min() - 0.2
flow_dead = rth.integrate_threshold_flow(Xa[1], Ya[1], theta_dead, S_END, s_eval=s_grid)
dead_move = float(np.abs(flow_dead.theta[:, 0, 1] - theta_dead[1]).max())
print(f"dead threshold moved by {dead_move:.1e}; the live one by "
      f"{abs(flow_dead.theta[-1, 0, 0] - theta_dead[0]):.2f}")

# %%
ledger.check("8a", "[ours] one shared net, overlapping clusters: |theta(s_end) - mean target of "
             "the final truncated set|", limit_err, 1e-6, relation="le", source=RECON,
             noise_floor=1e-10, kind="evidence",
             alternative=f"the mean target of all points: {alt_limit:.2f}")
ledger.check("8b", "[ours] one shared net: final truncated set of coordinate 2 = cluster 0 "
             "exactly, as the exact path predicts", set2_is_cluster0
             and bool(np.array_equal(final_sets, sets_pred)), True, relation="true",
             source=RECON, kind="evidence",
             alternative="collapse of both clusters: all points truncated in both coordinates")
ledger.check("8c", "[ours] one shared net: loss C_in(s_end) vs the exact-path prediction "
             "C_in(theta*) > 0", loss8, loss_pred, rtol=1e-6, source=RECON, digits=6,
             kind="evidence", alternative=f"collapse and zero loss: 0 (the lower bound from "
                                          f"cluster 1's untruncated coordinate is "
                                          f"{loss_floor:.4f})")
ledger.check("8d", "[ours] dead bias: T_i empty => theta_i frozen (max displacement)", dead_move,
             0.0, relation="le", source=RECON, noise_floor=1e-15, kind="consistency")

# %% [markdown]
# ## 9. Training the weights too [paper, abstract (paraphrased): equations for the cumulative
# biases *and weights*, under the hypothesis that the weights are adapted; ours: what the
# weight flow does to that hypothesis]
#
# Secs. 3–8 move only the thresholds. Now the cumulative weight $W$ of a one-layer network is
# trained as well: gradient descent on $(W,\beta)$ for $C_{\rm in}$ with the closed-form
# gradients of Sec. 2a ($\eta=0.02$), starting from the adapted point $W=I$, for
# `N_WEIGHT_RUNS` random clusters drawn like cluster 0 (each its own network, $N=n$). Two
# versions:
#
# * **constrained** to the adapted (diagonal) form: only the diagonal of $\nabla_WC_{\rm in}$
#   is kept. It vanishes for diagonal $W$ (Sec. 2a), so $W$ stays at $I$ and $\theta=-\beta$
#   follows GD on (E1): collapse and zero loss should follow as in Sec. 5;
# * **unconstrained**: the off-diagonal gradient, non-zero as soon as a point is truncated in
#   one coordinate but not in the other, rotates the cone.
#
# A run is called *collapsed* when $C_{\rm in}(s_{\rm end})\le10^{-12}$ and *stalled* when
# $C_{\rm in}(s_{\rm end})\ge10^{-3}$; the printout also counts the runs in neither class.

# %%
LR_W, S_W = 0.02, 60.0
steps_w = int(round(S_W / LR_W))
Xw = SPREAD * rng.standard_normal((N_WEIGHT_RUNS, n, 2))         # clusters around 0
Yw = np.full_like(Xw, 1.5)                                        # target beyond: (1.5, 1.5)
beta_w = -np.sort(Xw, axis=1)[:, :2].mean(axis=1)                 # one point truncated per coord
runs = {}
for name, diagonal in (("constrained", True), ("unconstrained", False)):
    runs[name] = rtr.cumulative_gradient_descent(np.eye(2), beta_w, Xw, Yw, lr=LR_W,
                                                 steps=steps_w, diagonal=diagonal,
                                                 log_every=steps_w // 6)
W_end = runs["unconstrained"].weights[-1]
offdiag = np.linalg.norm(W_end * (1 - np.eye(2)), axis=(1, 2)) / np.linalg.norm(W_end, axis=(1, 2))
drift_constrained = float(np.abs(runs["constrained"].weights - np.eye(2)).max())
summary = {}
for name, run_w in runs.items():
    Z_end = np.stack([rf.truncation_map(run_w.weights[-1, b], run_w.betas[-1, b], Xw[b])
                      for b in range(N_WEIGHT_RUNS)])
    V_end = rth.within_cluster_spread(Z_end, np.zeros(n, dtype=int))[:, 0]
    loss_end = run_w.losses[-1]
    summary[name] = dict(collapsed=int(np.sum(loss_end <= 1e-12)),
                         stalled=int(np.sum(loss_end >= 1e-3)), loss=loss_end, V=V_end)
    print(f"{name:>13}: {summary[name]['collapsed']}/{N_WEIGHT_RUNS} collapsed, "
          f"{summary[name]['stalled']} stalled, "
          f"{N_WEIGHT_RUNS - summary[name]['collapsed'] - summary[name]['stalled']} neither; "
          f"largest loss {loss_end.max():.1e}, "
          f"largest spread {V_end.max():.1e}")
stalled = summary["unconstrained"]["loss"] >= 1e-3
print(f"constrained W moved by {drift_constrained:.1e}; unconstrained: off-diagonal share "
      f"||offdiag W|| / ||W|| from {offdiag.min():.3f} to {offdiag.max():.3f}")
# continue the stalled runs to s = S_W_LONG: a positive-loss plateau, or a slow approach to 0?
S_W_LONG = 200.0
if stalled.any():
    run_u = runs["unconstrained"]
    steps_more = int(round((S_W_LONG - S_W) / LR_W))
    losses_long = rtr.cumulative_gradient_descent(run_u.weights[-1, stalled],
                                                  run_u.betas[-1, stalled], Xw[stalled],
                                                  Yw[stalled], lr=LR_W, steps=steps_more,
                                                  log_every=steps_more).losses
    plateau = float(np.min(losses_long[-1] / losses_long[0]))
    print(f"stalled runs: loss {losses_long[0].min():.4f} to {losses_long[0].max():.4f} at "
          f"s = {S_W:g}, {losses_long[-1].min():.4f} to {losses_long[-1].max():.4f} at "
          f"s = {S_W_LONG:g}; smallest ratio {plateau:.3f}")
else:
    plateau = float("nan")

# %% [markdown]
# So the adapted (diagonal) form is **not** preserved by the weight flow, and it matters:
# collapse and zero loss hold under the constraint that the cumulative weights stay diagonal
# (then $W$ does not move at all, and the threshold flow is (E1)); without the constraint a
# sizeable fraction of clusters end on a plateau of positive loss with the cone rotated and
# no collapse (9c, 9d; the loss barely changes between $s=60$ and $s=200$). Under which
# conditions the paper's "adapted" hypothesis is maintained along its flow we cannot tell
# without its body.

# %%
ledger.check("9a", "[ours] unconstrained (W, beta) flow from W = I: smallest off-diagonal share "
             "||offdiag W|| / ||W|| at s_end", float(offdiag.min()), 1e-3, relation="ge",
             source=ABSTRACT + " (adapted weights); " + RECON, kind="evidence",
             alternative="the diagonal (adapted) set invariant under the flow: 0 (the constrained "
                         f"run moves W by {drift_constrained:.0e})")
ledger.check("9b", "[ours] W constrained diagonal: runs with collapse and zero loss "
             "(C_in(s_end) <= 1e-12)", summary["constrained"]["collapsed"], N_WEIGHT_RUNS,
             relation="ge", source=ABSTRACT + " (collapse, zero loss); " + RECON,
             kind="evidence",
             alternative=f"the unconstrained flow: {summary['unconstrained']['collapsed']}/"
                         f"{N_WEIGHT_RUNS} collapse")
ledger.check("9c", "[ours] W unconstrained: runs stalled with positive loss "
             "(C_in(s_end) >= 1e-3), at least one", summary["unconstrained"]["stalled"], 1,
             relation="ge", source=RECON, kind="evidence",
             alternative="collapse for every cluster, as under the constraint: 0 stalled")
ledger.check("9d", "[ours] stalled runs sit on a positive-loss plateau: smallest "
             "C_in(s=200) / C_in(s=60)", plateau, 0.5, relation="ge", source=RECON,
             kind="evidence",
             alternative="a slow approach to collapse at the rate of Sec. 5, e^(-2 x 140): ~1e-122")

# %% [markdown]
# ## What holds, and what is ours
#
# * Everything checked here holds for **our reconstruction**: the effective flow (E1) as the
#   Euclidean gradient flow of the input-layer cost in the cumulative thresholds; monotone
#   truncation; a rate $k/N$ that grows with the number truncated, measured on the network's
#   own gradient descent (4a–4c); exact crossing times; collapse of each cluster to a point
#   with zero loss; the spectral-gap rate of the standard cost. These match the qualitative
#   claims of the abstract **[paper]**; whether they match the paper's own equations cannot
#   be checked without its body.
# * Claims 3–7 are **per cluster**: one adapted network has one threshold per coordinate
#   (1e), so each cluster is given its own network. One network shared by two overlapping
#   clusters converges to a self-consistent threshold with positive loss (8a–8c).
# * Two readings of "gradient descent" differ: the Euclidean flow in the cumulative variables
#   (E) and the flow induced by training per-layer biases (P) share their **equilibria** but
#   not their orbits (2d) nor their rates (2b, 2c).
# * Training the weights too breaks the adapted form (9a); collapse and zero loss then hold
#   only under the constraint that the cumulative weights stay diagonal (9b, 9c).
# * Robustness: every claim of this table passed at each of 20 seeds (`SEED` = 1..20, quick
#   mode) in our runs.
# * The late slope of $\log C_{\rm in}$ is $-2n/N$ (5d); $-n/N$ is the slope of
#   $\log\sqrt{C_{\rm in}}$ (5c). Monotonicity is conditional (3c): with a target inside a
#   cluster points are released.

# %% [markdown]
# ## Try it yourself
#
# Change one value in the `parameters` cell (the first code cell), re-run the whole notebook and
# compare with the numbers below; they come from our own quick-mode runs with the default seed.
# Restore the value before trying the next change.
#
# * **More points per cluster: `quick=16` in `N_PER_CLUSTER`** (default 8). The rate grows with
#   every truncated point **[paper]**, by $1/N=1/n$ per point **[ours]**. Observed: all claims
#   pass; 60 kinks instead of 28, each adding $1/16$ instead of $1/8$ to the rate; the last
#   crossing comes at $s_n=2.16$ (default 1.89); the late slopes stay $-1$ and $-2$ (they depend
#   on $n/N=1$ only). In Sec. 9 the unconstrained weight flow now stalls for **all** 12
#   clusters (default: 5 of 12 collapse), while the constrained flow still collapses 12 of 12.
# * **A shorter flow: `S_END = 10.0`** (default 40). After the collapse $C_{\rm in}$ decays like
#   $e^{-2(n/N)s}=e^{-2s}$ **[ours]**. Observed: $C_{\rm in}(s_{\rm end})/C_{\rm in}(0)=3.0\cdot
#   10^{-8}$, so **claim 5e fails** (it asks for $\le10^{-12}$); all other claims pass.
#   `S_END = 16.0` gives $1.8\cdot10^{-13}=3.0\cdot10^{-8}e^{-12}$, as predicted, and 5e passes.
# * **Wider clusters: `SPREAD = 1.0`** (default 0.3). Collapse needs every target beyond its
#   cluster **[ours]**. For the two clusters of Secs. 3–7 this still holds with the default seed
#   (first printed line), so those claims pass, with a later last crossing ($s_n=8.55$ instead
#   of 1.89). The random clusters of Sec. 9 keep their target at $(1.5,1.5)$ and now have points
#   beyond it: **claim 9b fails** (2 of 12 collapse even with diagonal weights), and **9d fails**
#   (one unconstrained run that had not collapsed by $s=60$ still reaches zero loss by $s=200$: a
#   slow approach, not a plateau). Both are the conditions of the claims, not bugs.

# %% [markdown]
# ## Claims

# %%
# NBVAL_CHECK_OUTPUT
print(ledger.table())

# %%
ledger.publish()
ledger.assert_all()
