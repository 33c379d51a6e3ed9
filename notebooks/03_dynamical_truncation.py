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
# equation in this notebook is therefore **our reconstruction (derived here)**, built on the
# truncation-map framework of Chen & Muñoz Ewald (arXiv:2405.07098, eq. (1)):
# cumulative parameters, the truncation identity, "adapted = diagonal", the input-layer cost,
# the flow equations (E1)/(E2), their explicit solutions, and all eight checks. They are
# consistent with the abstract but are *not* quotations or theorems of the paper. A
# third-party summary (unverified) also mentions a link to the standard cost with exponential
# convergence from a spectral gap; we test our version of that statement too (claim 6).
#
# | tag | meaning |
# |---|---|
# | **[paper]** | stated in the abstract / Sec. 1 of arXiv:2501.07400 (paraphrased) |
# | **[ours]** | reconstruction derived here; the ledger's `source` says "derived here (reconstruction)" |

# %% tags=["parameters"]
import numpy as np
import sympy as sp
import matplotlib.pyplot as plt
from IPython.display import display
from theory import config, plotting
from theory import relu_flow as rf
from theory.symbolic import relu_flow as srf
from theory.claims import Ledger

SEED = config.SEED
N_PER_CLUSTER = config.pick(quick=8, full=10)       # points per cluster (spec: N = 8-20)
SPREAD = 0.3                                        # cluster std (spec 4)
GRID = config.pick(quick=10_001, full=100_001)      # time grid for monotonicity checks (>= 1e4)
S_END = 80.0                                        # flow time (targets reached to ~1e-9)
GD_STEPS = config.pick(quick=400, full=4000)        # steps of the bias GD in check 2b
NOTEBOOK = "03_dynamical_truncation"
RECON = "derived here (reconstruction)"

# %%
rng = np.random.default_rng(SEED)
plotting.use_style()
sp.init_printing(use_latex="mathjax")
ledger = Ledger("Dynamical truncation (Chen, arXiv:2501.07400)", seed=SEED)

# %% [markdown]
# ## 0. Setting [ours]
#
# Network with all widths $M$ and invertible weights:
# $x^{(\ell)}=\sigma(W_\ell x^{(\ell-1)}+b_\ell)$, $\ell=1..L$, output $W_{L+1}x^{(L)}+b_{L+1}$.
# Cumulative parameters $W^{(\ell)}=W_\ell\cdots W_1$, $b^{(\ell)}=W_\ell b^{(\ell-1)}+b_\ell$,
# and the cumulative bias in input coordinates $\beta^{(\ell)}=(W^{(\ell)})^{-1}b^{(\ell)}$, so
# that $A^{(\ell)}(x)=W^{(\ell)}(x+\beta^{(\ell)})$. The truncation map (R3 = Chen & Muñoz Ewald,
# arXiv:2405.07098, eq. (1), here for invertible $W$)
#
# $$\tau_{W,\beta}(x)=W^{-1}\big(\sigma(W(x+\beta))-W\beta\big)=x-\Pi_x(x+\beta),\qquad
# \Pi_x=W^{-1}P_xW,\quad P_x=\mathrm{diag}\,[W(x+\beta)<0].$$
#
# *Adapted* weights are read here as **diagonal positive** cumulative weights: $W^{-1}PW=P$ for
# every coordinate projection $P$ holds exactly for diagonal $W$, and positivity makes
# $\tau(x)_i=\max(x_i,\theta_i)$ with the threshold $\theta=-\beta$ (the paper's own definition of
# "adapted" is not known to us). With labels pulled back to the input layer,
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
# **Fixture.** Two clusters in $\mathbb R^2$, $N(\mu_\alpha,0.3^2I)$, with the pulled-back
# targets "beyond" each cluster, $\bar y_\alpha=\mu_\alpha+1.5\,(1,1)$. In the *separated*
# setting each cluster has its own truncation map (one threshold vector per cluster, as in
# R3); each threshold starts between the two lowest coordinates of its cluster, so exactly one
# point is truncated per coordinate at $s=0$.

# %%
mus = np.array([[0.0, 0.0], [3.0, -1.0]])
labels = np.repeat([0, 1], N_PER_CLUSTER)
N = labels.size
X = mus[labels] + SPREAD * rng.standard_normal((N, 2))
Ybar = mus[labels] + 1.5
targets = mus + 1.5
theta0 = np.array([[np.sort(X[labels == a, i])[:2].mean() for i in range(2)] for a in range(2)])
beyond = all((Ybar[labels == a] > X[labels == a]).all() for a in range(2))
print(f"N = {N}, clusters of {N_PER_CLUSTER}; targets beyond every point: {beyond}")

# %% [markdown]
# ## 1. Representation identity (P1, P2) [ours]
#
# *Claim.* $x^{(L+1)}=A^{(L+1)}(\tau^{(L)}\circ\cdots\circ\tau^{(1)}(x))$ with
# $\tau^{(\ell)}=\tau_{W^{(\ell)},\beta^{(\ell)}}$ and
# $\beta^{(\ell)}=\sum_{k\le\ell}(W^{(k)})^{-1}b_k$; each $\Pi_x$ is an oblique projector.
# This is the "chain of truncations in input space followed by one affine map" on which the
# paper's cumulative variables [paper, abstract] rest. *Derivation* (sympy, two layers, $M=2$,
# fully symbolic weights and biases, on fixed activation patterns): $\sigma\circ A^{(\ell)}=
# A^{(\ell)}\circ\tau^{(\ell)}$, the sum formula for $\beta^{(2)}$, and the two-layer network.

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
# *Simulation.* Random $W_\ell=N(0,1)+2I$, $M=3$, $L=3$ hidden layers plus the output layer,
# 200 random inputs.

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
print(f"|forward - A(T(x))| = {out_err:.1e}, |beta - sum formula| = {beta_err:.1e}, "
      f"|Pi^2 - Pi| = {proj_err:.1e}")

# %%
ledger.check("1a", "forward(x) = A^(L+1)(T(x)) (M=3, L=3): max error", out_err, 1e-10,
             relation="le", source=RECON + "; R3 eq. (1)", noise_floor=1e-12)
ledger.check("1b", "beta^(l) = sum_k (W^(k))^-1 b_k: max error", beta_err, 1e-10,
             relation="le", source=RECON, noise_floor=1e-12)
ledger.check("1c", "Pi_x^2 = Pi_x on every layer and point: max error", proj_err, 1e-10,
             relation="le", source=RECON, noise_floor=1e-12)
ledger.check("1d", "sympy: sigma o A = A o tau, beta^(2) formula, 2-layer net, Pi^2 = Pi",
             sym_ok_1, True, relation="true", source=RECON)

# %% [markdown]
# ## 2. Effective versus true gradient [ours; paper, abstract (paraphrased): explicit
# equations for the cumulative biases and weights]
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
# the diagonal ansatz is *not* invariant under the full flow (spec, pitfalls).

# %%
print("sympy: d Pi formula holds:", sym_proj["derivative_ok"],
      "| closed-form grad_W holds:", sym_proj["gradient_ok"])
print("grad_W C for diagonal W (one point, pattern diag(1,0)):")
display(sym_proj["gradient_diagonal_W"])

# %%
h = 1e-6
# (i) thresholds, diagonal case (E1), separated fixture, a point away from kinks
theta_fd = theta0 + 0.173
margin_theta = np.abs(X - theta_fd[labels]).min()
g_theta = -rf.effective_velocity(theta_fd, X, Ybar, labels)
fd_theta = rf.central_difference(lambda t: rf.diagonal_cost(t, X, Ybar, labels), theta_fd, h)
err_theta = np.abs(fd_theta - g_theta).max() / np.abs(g_theta).max()
# (ii) cumulative biases and weights, general W, three truncation layers
Ybar1 = rng.standard_normal((200, M1))
Wh, bh = Wc1[:-1], beta1[:-1]
margin_chain = rf.kink_margin(Wh, bh, X1)
gW, gb = rf.input_cost_gradients(Wh, bh, X1, Ybar1)
fd_b = rf.central_difference(lambda b: rf.input_cost(Wh, b, X1, Ybar1), bh, h)
fd_W = rf.central_difference(lambda W: rf.input_cost(W, bh, X1, Ybar1), Wh, h)
err_beta = np.abs(fd_b - gb).max() / np.abs(gb).max()
err_W = np.abs(fd_W - gW).max() / np.abs(gW).max()
gW_diag, _ = rf.input_cost_gradients(np.diag([1.3, 0.7])[None], -theta_fd[:1], X, Ybar)
diag_part = np.abs(np.diag(gW_diag[0])).max()
offdiag_part = np.abs(gW_diag[0] - np.diag(np.diag(gW_diag[0]))).max()
print(f"kink margins: {margin_theta:.2e} (theta), {margin_chain:.2e} (chain) vs step {h:.0e}")
print(f"relative errors: theta {err_theta:.1e}, beta {err_beta:.1e}, W {err_W:.1e}")
print(f"diagonal W: |diag grad_W| = {diag_part:.1e}, |offdiag grad_W| = {offdiag_part:.2f}")

# %%
ledger.check("2a-theta", "E1 = -grad_theta C_in vs finite differences: relative error",
             err_theta, 1e-6, relation="le", source=RECON, noise_floor=1e-8)
ledger.check("2a-beta", "grad_beta C_in (general W, 3 layers) vs finite differences: rel. error",
             err_beta, 1e-6, relation="le", source=RECON, noise_floor=1e-8)
ledger.check("2a-W", "closed-form grad_W C_in vs finite differences: relative error",
             err_W, 1e-6, relation="le", source=RECON, noise_floor=1e-8)
ledger.check("2a-sym", "sympy: region gradient (K/N)(theta-ybar), dPi, grad_W, diag(grad_W)=0",
             reg["gradient_ok"] and sym_proj["derivative_ok"] and sym_proj["gradient_ok"]
             and sym_proj["diagonal_vanishes_ok"], True, relation="true", source=RECON)

# %% [markdown]
# ### 2b. The flow that per-layer gradient descent actually induces (P8)
#
# The abstract speaks of gradient descent *in the cumulative variables* with a Euclidean
# input-layer cost; a network is, however, trained in its per-layer parameters. Since
# $\beta^{(\ell)}=\sum_{k\le\ell}(W^{(k)})^{-1}b_k$ is linear in the biases, gradient flow on
# $(b_1,\dots,b_L)$ with frozen weights induces
# $\dot\theta=-JJ^\top\nabla_\theta C_{\rm in}$ with the block metric
# $(JJ^\top)_{\ell\ell'}=\sum_{k\le\min(\ell,\ell')}(W^{(k)})^{-1}(W^{(k)})^{-\top}$. Reading (E),
# the Euclidean flow in $\theta$, and reading (P), the per-layer flow, have the same orbits
# only when $JJ^\top=I$; otherwise rates are rescaled. Sympy, two scalar layers:

# %%
sym_metric = srf.scalar_metric_factor()
print("J J^T =")
display(sym_metric["JJt"])
print("one scalar layer, (w, b) both trained: theta' = -(metric factor) C'(theta) with factor")
display(sym_metric["metric_factor"])

# %% [markdown]
# *Simulation.* $L=2$ diagonal hidden layers, frozen; plain GD ($\eta=10^{-4}$) on $b_1,b_2$ of
# the network cost $C_{\rm in}$ computed by ordinary backpropagation through the ReLU network
# (no truncation formalism); $\dot\theta$ is estimated by finite differences along the GD
# trajectory and compared with $-JJ^\top\nabla_\theta C_{\rm in}$ computed from the truncation
# chain.

# %%
# NBVAL_IGNORE_OUTPUT
eta_b = 1e-4
Ws2 = [np.diag([1.5, 0.8]), np.diag([0.6, 1.2]), np.array([[2.0, 0.5], [0.0, 0.7]])]
bs2 = [np.array([0.3, 0.3]), np.array([0.2, -0.4]), np.zeros(2)]
_, thetas_b = rf.gradient_descent_biases(Ws2, bs2, X, Ybar, eta_b, GD_STEPS, progress=True)
Wc2, _, _ = rf.cumulative_parameters(Ws2, bs2)
JJ = rf.bias_metric(Ws2[:-1])
rel_err_b = 0.0
for t in range(GD_STEPS):
    _, gb_t = rf.input_cost_gradients(Wc2[:-1], -thetas_b[t], X, Ybar)
    predicted = JJ @ gb_t.ravel()                 # -J J^T grad_theta, grad_theta = -grad_beta
    measured = (thetas_b[t + 1] - thetas_b[t]).ravel() / eta_b
    rel_err_b = max(rel_err_b, np.linalg.norm(measured - predicted) / np.linalg.norm(predicted))
metric_gap = np.linalg.norm(JJ - np.eye(4), 2)

# %%
print(f"max relative error of the induced flow along {GD_STEPS} steps: {rel_err_b:.1e}")
print(f"||J J^T - I||_2 = {metric_gap:.3f}  (E1 and the per-layer flow differ by this metric)")

# %% [markdown]
# The metric changes rates, quantitatively: with one hidden layer $W_1=\mathrm{diag}(w)$ and
# the cluster fully truncated, (E1) decays at rate $n/N$ in every coordinate, while the
# per-layer bias flow decays at $(n/N)/w_i^2$. We measure it from GD on $b_1$
# ($\eta=10^{-3}$, 3000 steps) on cluster 0 alone (so $N=n$), where the discrete rate is
# $-\ln(1-\eta\,(n/N)/w_i^2)/\eta$ (the per-step factor of GD; it tends to $(n/N)/w_i^2$).

# %%
w_diag = np.array([2.0, 0.5])
pts = labels == 0
Xc, Yc = X[pts], Ybar[pts]
theta_full = Xc.max(axis=0) + 0.05                    # every point truncated, below the target
Ws3 = [np.diag(w_diag), np.eye(2)]
bs3 = [w_diag * (-theta_full), np.zeros(2)]           # theta = -b / w
eta3, steps3 = 1e-3, 3000
_, thetas3 = rf.gradient_descent_biases(Ws3, bs3, Xc, Yc, eta3, steps3)
frac = 1.0                                            # n/N: cluster 0 alone
err3 = np.abs(thetas3[:, 0, :] - targets[0])
rate_P = -np.log(err3[-1] / err3[0]) / (eta3 * steps3)             # measured per-layer rate
rate_P_pred = -np.log(1 - eta3 * frac / w_diag**2) / eta3          # GD per-step factor
print("per-layer rates:", ", ".join(f"{r:.4f}" for r in rate_P), "| predicted (n/N)/w^2:",
      ", ".join(f"{r:.4f}" for r in frac / w_diag**2), "| E1 rate n/N = 1")

# %%
ledger.check("2b", "per-layer bias GD induces theta' = -J J^T grad C_in: max rel. error",
             rel_err_b, 1e-3, relation="le", source=RECON + " (P8)", noise_floor=1e-8)
ledger.check("2b-metric", "||J J^T - I||_2 for the L=2 diagonal net (E1 != per-layer flow)",
             metric_gap, 0.1, relation="ge", source=RECON + " (P8)")
ledger.check("2c", "per-layer GD rate vs (n/N)/w_i^2 (discrete form): worst |ratio - 1|",
             float(np.max(np.abs(rate_P / rate_P_pred - 1))), 0.01, relation="le",
             source=RECON + " (P8)", noise_floor=1e-6)

# %% [markdown]
# ## 3. Monotone truncation (P5) [paper, abstract (paraphrased): clusters lose geometric
# complexity step by step; ours: the statement and its condition]
#
# *Claim.* With targets beyond the cluster, $\theta_i$ increases, $|T_i(s)|$ never decreases
# and the number of active points (not yet fully truncated) never increases.
# *Simulation.* (E1) integrated with `solve_ivp` (RK45, rtol $10^{-10}$, atol $10^{-12}$),
# stopping at every kink with a terminal event and restarting with the new truncation
# pattern; the dense output is read on a grid of $\ge10^4$ times.

# %%
s_grid = np.linspace(0.0, S_END, GRID)
flow = rf.integrate_threshold_flow(X, Ybar, theta0, S_END, groups=labels, s_eval=s_grid)
P_t = X[None] < flow.theta[:, labels, :]                 # (time, point, coord)
counts_T = np.stack([P_t[:, labels == a, :].sum(axis=1) for a in range(2)], axis=1)  # (t,a,i)
active = (~P_t.all(axis=2)).sum(axis=1)                  # points not fully truncated
viol_T = int(np.sum(np.diff(counts_T, axis=0) < 0))
viol_active = int(np.sum(np.diff(active) > 0))
print(f"{len(flow.events)} kinks; |T_i| decreases: {viol_T}; active count increases: "
      f"{viol_active}; active at the end: {active[-1]}")

# %% [markdown]
# *Negative control.* Put the target of one coordinate *inside* the cluster and start the
# threshold above every point: $\theta$ now moves **down** through the data and points are
# *un*-truncated; no full collapse, and the loss stays positive.

# %%
Ybar_ctrl = Ybar.copy()
Ybar_ctrl[labels == 0, 0] = np.median(X[labels == 0, 0])
theta_ctrl = theta0.copy()
theta_ctrl[0, 0] = X[labels == 0, 0].max() + 0.1
flow_ctrl = rf.integrate_threshold_flow(X, Ybar_ctrl, theta_ctrl, S_END, groups=labels,
                                        s_eval=s_grid)
cnt_ctrl = (X[labels == 0, 0][None] < flow_ctrl.theta[:, 0, 0][:, None]).sum(axis=1)
drops_ctrl = int(np.sum(np.diff(cnt_ctrl) < 0))
print(f"control: |T_0| goes {cnt_ctrl[0]} -> {cnt_ctrl[-1]} with {drops_ctrl} decreases")

# %%
ledger.check("3a", "targets beyond: decreases of |T_i(s)| on the grid", viol_T, 0,
             relation="le", source=RECON + " (P5); paper abstract")
ledger.check("3b", "targets beyond: increases of the active-point count", viol_active, 0,
             relation="le", source=RECON + " (P5)")
ledger.check("3c", "control, target inside the cluster: un-truncation events (>= 1)",
             drops_ctrl, 1, relation="ge", source=RECON + " (negative control)")

# %% [markdown]
# ## 4. Exponential rate = (number truncated)/N, crossing times (P5, solution 1)
# [paper, abstract (paraphrased): the rate is exponential and increases with the number of
# points already truncated; ours: the rate $k/N$ and the formulas]
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
# *Check.* On each interval between kinks we fit the slope of $\log|\theta_i-\bar y_i|$ from
# the numerical solution and compare it with $-k/N$; the event times of `solve_ivp` are
# compared with the closed-form crossing times.

# %%
slope_dev, time_dev, rates_increase = 0.0, 0.0, True
paths = {}
for a in range(2):
    for i in range(2):
        pts = labels == a
        closed = rf.crossing_times_beyond(X[pts, i], targets[a, i], theta0[a, i], N)
        events = flow.event_times(a, i)
        time_dev = max(time_dev, np.max(np.abs(events - closed) / closed))
        paths[a, i] = rf.exact_threshold_path(X[pts, i], Ybar[pts, i], theta0[a, i], N)
        edges = np.concatenate([[0.0], events, [S_END]])
        dist = np.abs(flow.theta[:, a, i] - targets[a, i])
        for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]), start=1):
            inside = (s_grid > lo) & (s_grid < hi) & (dist > 1e-9)
            if inside.sum() >= 3:
                slope = rf.fit_log_slope(s_grid[inside], dist[inside])
                slope_dev = max(slope_dev, abs(slope / (-k / N) - 1))
        rates_increase &= bool(np.all(np.diff(paths[a, i].rates()) > 0))
print(f"max relative deviation of fitted slopes from -k/N: {slope_dev:.1e}")
print(f"max relative deviation of crossing times: {time_dev:.1e}")
print("rate strictly increases with the number truncated:", rates_increase)

# %%
ledger.check("4a", "fitted slope of log|theta_i - ybar_i| vs -k/N: max relative deviation",
             slope_dev, 0.01, relation="le", source=RECON + " (P5); paper abstract",
             noise_floor=1e-3)
ledger.check("4b", "solve_ivp kink times vs closed-form crossing times: max rel. deviation",
             time_dev, 1e-3, relation="le", source=RECON + " (solution 1)", noise_floor=1e-6)
ledger.check("4c", "the rate k/N increases with every truncated point",
             rates_increase, True, relation="true", source="paper, abstract (rate k/N: ours)")

# %% [markdown]
# ### Figure: transport in input space

# %%
def plot_transport(ax, s_value):
    idx = np.searchsorted(s_grid, s_value)
    th = flow.theta[idx]
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
    ax.set_title(f"s = {s_value:g}, active {int((~P_s.all(1)).sum())}/{N}")
    ax.set_xlim(-1.0, 5.3)
    ax.set_ylim(-2.2, 2.2)
    ax.set_xlabel("$x_1$")


fig, axes = plotting.figure("triple", ncols=4, sharey=True)
for ax, s_value in zip(axes, [0.0, 1.5, 3.0, 10.0]):
    plot_transport(ax, s_value)
axes[0].set_ylabel("$x_2$")
axes[0].legend(loc="lower left")
plotting.savefig(fig, NOTEBOOK, "transport")
plt.show()

# %% [markdown]
# Grey: the data; coloured: their images $T(x_j)$ at flow time $s$; dashed: the faces of the
# cone with apex $\theta_\alpha(s)$; stars: the targets. Points slide onto the faces, then to
# the apex, which then travels to the target.

# %% [markdown]
# ## 5. Collapse of each cluster (P6) [paper, abstract (paraphrased): under suitable
# conditions a cluster is contracted to one point, neural collapse, zero training loss; ours:
# the metric and the rate]
#
# *Claim.* $|\max(a,\theta)-\max(b,\theta)|$ is non-increasing in $\theta$, so for increasing
# $\theta(s)$ the within-cluster spread $V_\alpha(s)=\mathrm{mean}_j|T(x_j)-\overline{T(x)}|^2$
# is non-increasing, and it is exactly $0$ after the last crossing time $s_n$. The cost then
# decays like $|\theta-\bar y|^2$, i.e. with late slope $-2n/N$ for $\log C_{\rm in}$ and $-n/N$
# for $\log\sqrt{C_{\rm in}}$.

# %%
Z_t = np.maximum(X[None], flow.theta[:, labels, :])
V = rf.within_cluster_spread(Z_t, labels)                         # (time, cluster)
V_increase = float(np.max(np.diff(V, axis=0)))
s_n = max(flow.event_times(a, i).max() for a in range(2) for i in range(2))
V_after = float(V[s_grid > s_n].max())
cost_t = 0.5 * np.sum((Z_t - Ybar) ** 2, axis=(1, 2)) / N
late = (cost_t > 1e-16) & (cost_t < 1e-6)
slope_cost = rf.fit_log_slope(s_grid[late], cost_t[late])
slope_sqrt = rf.fit_log_slope(s_grid[late], np.sqrt(cost_t[late]))
n_over_N = N_PER_CLUSTER / N
print(f"max increase of V: {V_increase:.1e}; max V after s_n = {s_n:.3f}: {V_after:.1e}")
print(f"late slope of log C_in: {slope_cost:.5f} (-2n/N = {-2 * n_over_N:.5f}); "
      f"of log sqrt(C_in): {slope_sqrt:.5f} (-n/N = {-n_over_N:.5f})")
print(f"C_in: {cost_t[0]:.3f} at s=0 -> {cost_t[-1]:.1e} at s={S_END:g}")

# %% [markdown]
# **Correction to the spec.** The spec asks for "C_in(s) decays with late slope −n/N". That
# is the rate of the *distance* $|\theta-\bar y|$ (equivalently of $\sqrt{C_{\rm in}}$); the cost is
# quadratic in that distance, so $\log C_{\rm in}$ has slope $-2n/N$ (measured above:
# the slope of $\log C_{\rm in}$ is twice $-n/N$). We check both statements in their correct form.

# %%
ledger.check("5a", "within-cluster spread V(s): largest increase on the grid", V_increase,
             1e-12, relation="le", source=RECON + " (P6)", noise_floor=1e-14)
ledger.check("5b", "V(s) after the last crossing time s_n (collapse to the apex)", V_after,
             1e-10, relation="le", source="paper, abstract (neural collapse); " + RECON,
             noise_floor=1e-14)
ledger.check("5c", "late slope of log sqrt(C_in) = -n/N", slope_sqrt, -n_over_N, rtol=0.01,
             source=RECON + " (P6)", digits=4)
ledger.check("5d", "late slope of log C_in = -2n/N (spec said -n/N: corrected)", slope_cost,
             -2 * n_over_N, rtol=0.01, source=RECON + " (P6)", digits=4)
ledger.check("5e", "zero training loss in the limit: C_in(s_end) / C_in(0)",
             cost_t[-1] / cost_t[0], 1e-12, relation="le",
             source="paper, abstract (zero loss); " + RECON, noise_floor=1e-18)

# %% [markdown]
# ## 6. Standard cost and the spectral gap (P7) [third-party summary, unverified: with the
# standard cost a spectral gap gives exponential convergence; ours: the statement]
#
# With the standard cost the flow is (E2) with $G=W^{(L+1)\top}W^{(L+1)}$. Once a cluster of
# $n$ points is fully truncated, $\dot\theta=-(n/N)G(\theta-\bar y)$, solved through the
# eigendecomposition of $G$ (sympy, symbolic $G$, and the $G$ used here):

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
S_END6 = 150.0
s6 = np.linspace(0.0, S_END6, GRID)
flow6 = rf.integrate_threshold_flow(X, Ybar, theta0, S_END6, groups=labels, metric=G,
                                    s_eval=s6)
rate_pred = rf.spectral_gap_rate(G, N_PER_CLUSTER, N)
slopes6, closed_err6 = [], 0.0
for a in range(2):
    err6 = np.linalg.norm(flow6.theta[:, a] - targets[a], axis=1)
    window = (err6 > 1e-9) & (err6 < 1e-2)
    slopes6.append(rf.fit_log_slope(s6[window], err6[window]))
    s_na = max(flow6.event_times(a, i).max() for i in range(2))
    after = s6 >= s_na
    closed = rf.spectral_gap_solution(flow6.theta[after, a][0], targets[a], G, n_over_N,
                                      s6[after] - s6[after][0])
    closed_err6 = max(closed_err6, np.abs(closed - flow6.theta[after, a]).max())
slope6 = max(slopes6)                      # the slower of the two clusters
print(f"fitted slopes {np.round(slopes6, 5)}; predicted -(n/N) lambda_min = {-rate_pred:.5f}")
print(f"after full truncation, |theta - closed form| = {closed_err6:.1e}")

# %%
ledger.check("6a", "(E2) late slope of log|theta - ybar| = -(n/N) lambda_min(G)", slope6,
             -rate_pred, rtol=0.02, source="summary (unverified); " + RECON + " (P7)",
             digits=4)
ledger.check("6b", "(E2) after full truncation = eigendecomposition solution: max error",
             closed_err6, 1e-8, relation="le", source=RECON + " (P7)", noise_floor=1e-8)
ledger.check("6c", "sympy: V exp(-c D s) V^-1 solves theta' = -c G (theta - ybar)",
             gap_sym["ode_ok"] and gap_sym["initial_ok"] and gap_num["ode_ok"], True,
             relation="true", source=RECON)

# %% [markdown]
# ### Figure: rates (E1 and E2) and the number of active points
# Left: the first kinks; black, the predicted slopes $-k/N$ on each segment of cluster 0,
# coordinate 1 (offset for visibility). Middle: the whole run; after the last kink every
# coordinate decays with slope
# $-n/N$ under (E1), and with $-(n/N)\lambda_{\min}(G)$ under the standard cost (E2).
# Right: active points (not fully truncated) and $|T_1|$ for each cluster; red, the negative
# control of Sec. 3 (points are released).

# %%
fig, axes = plotting.figure("triple", ncols=3)
styles = {(0, 0): ("tab:blue", "-"), (0, 1): ("tab:blue", "--"),
          (1, 0): ("tab:orange", "-"), (1, 1): ("tab:orange", "--")}
ax = axes[0]
for (a, i), (col, ls) in styles.items():
    ax.semilogy(s_grid, np.abs(flow.theta[:, a, i] - targets[a, i]), ls=ls, color=col,
                label=f"cluster {a}, coordinate {i + 1}")
p = paths[0, 0]                                # predicted slopes -k/N, cluster 0, coordinate 1
ends = np.append(p.starts[1:], p.starts[-1] + 2.0)
for n_seg, (k, lo, hi) in enumerate(zip(p.counts, p.starts, ends)):
    seg = np.linspace(lo, hi, 2)
    ax.semilogy(seg, 1.4 * np.abs(p(lo) - targets[0, 0]) * np.exp(-(k / N) * (seg - lo)),
                color="k", lw=0.8, label="slopes $-k/N$ (offset)" if n_seg == 0 else None)
ax.set_xlim(0, 6)
ax.set_ylim(0.1, 3)
ax.set_xlabel("flow time $s$")
ax.set_ylabel(r"$|\theta_i(s) - \bar y_i|$")
ax.set_title("(E1) early: rate grows with each truncation")
ax.legend(fontsize=7)
ax = axes[1]
for (a, i), (col, ls) in styles.items():
    dist = np.abs(flow.theta[:, a, i] - targets[a, i])
    keep = dist > 1e-9
    ax.semilogy(s_grid[keep], dist[keep], ls=ls, color=col)
err_E2 = np.linalg.norm(flow6.theta[:, 0] - targets[0], axis=1)
keep = err_E2 > 1e-9
ax.semilogy(s6[keep], err_E2[keep], color="tab:green",
            label=r"(E2), cluster 0: $|\theta - \bar y|$")
ref = np.linspace(10, 40, 2)
ax.semilogy(ref, 1e-2 * np.exp(-n_over_N * (ref - 10)), "k:", label="slope $-n/N$")
ref = np.linspace(20, 100, 2)
ax.semilogy(ref, 3e-1 * np.exp(-rate_pred * (ref - 20)), "k-.",
            label=r"slope $-(n/N)\lambda_{\min}(G)$")
ax.set_ylim(1e-9, 10)
ax.set_xlabel("flow time $s$")
ax.set_title("late: collapse, then exponential approach")
ax.legend(fontsize=7)
ax = axes[2]
for a, col in enumerate(["tab:blue", "tab:orange"]):
    ax.step(s_grid, (~P_t[:, labels == a].all(axis=2)).sum(axis=1), where="post", color=col,
            label=f"cluster {a}: active points")
    ax.step(s_grid, counts_T[:, a, 0], where="post", color=col, ls=":",
            label=f"cluster {a}: $|T_1|$")
ax.step(s_grid, cnt_ctrl, where="post", color="tab:red", ls="--",
        label="control (target inside): $|T_1|$")
ax.set_xlim(0, 8)
ax.set_xlabel("flow time $s$")
ax.set_ylabel("number of points")
ax.set_title("active and truncated points")
ax.legend(fontsize=7)
plotting.savefig(fig, NOTEBOOK, "rates_and_counts")
plt.show()

# %% [markdown]
# ## 7. Gradient-descent discretisation [ours]
#
# *Claim.* $\theta\leftarrow\theta-\eta\nabla C_{\rm in}$ contracts the error
# $\theta_i-\langle\bar y_i\rangle_{T_i}$ by exactly $1-\eta k/N$ per step while the pattern is
# fixed; for $\eta k/N>2$ the factor is below $-1$ and the iteration oscillates with growing
# amplitude.

# %%
eta7 = 1.0
thetas7, losses7 = rf.gradient_descent_thresholds(theta0, X, Ybar, eta7, 200, groups=labels)
ratio_dev = 0.0
for a in range(2):
    for i in range(2):
        pts = labels == a
        th = thetas7[:, a, i]
        P_before = X[pts, i][None] < th[:-1, None]
        P_after = X[pts, i][None] < th[1:, None]
        k = P_before.sum(axis=1)
        m = np.array([Ybar[pts, i][p].mean() if p.any() else np.nan for p in P_before])
        keep = (P_before == P_after).all(axis=1) & (k > 0) & (np.abs(th[:-1] - m) > 1e-6)
        ratio = (th[1:][keep] - m[keep]) / (th[:-1][keep] - m[keep])
        ratio_dev = max(ratio_dev, np.abs(ratio - (1 - eta7 * k[keep] / N)).max())
print(f"max |measured ratio - (1 - eta k/N)| = {ratio_dev:.1e}")

# %% [markdown]
# *Divergence control:* a fully truncated cluster with $\eta n/N=2.5$ (factor $-1.5$).

# %%
eta_bad = 2.5 * N / N_PER_CLUSTER
start_bad = theta0.copy()
start_bad[0] = targets[0] - 0.05                      # cluster 0 fully truncated, close to target
thetas_bad, losses_bad = rf.gradient_descent_thresholds(start_bad, X, Ybar, eta_bad, 12,
                                                        groups=labels)
err_bad = thetas_bad[:, 0, 0] - targets[0, 0]
ratio_bad = err_bad[1] / err_bad[0]
fully = (X[labels == 0][None] < thetas_bad[:, 0][:, None, :]).all(axis=(1, 2))
print(f"first-step ratio {ratio_bad:.6f} (1 - eta n/N = {1 - eta_bad * n_over_N:.6f}); "
      f"errors: " + ", ".join(f"{e:+.3f}" for e in err_bad[:6]))
print(f"cluster 0 fully truncated at steps: {np.flatnonzero(fully)[:8].tolist()} ...; "
      "final threshold below the cluster: "
      f"{bool((thetas_bad[-1, 0] < X[labels == 0].min(0)).any())}")
print(f"loss: {losses_bad[0]:.4f} at the start, {losses_bad[-1]:.4f} after 12 steps")

# %%
ledger.check("7a", "GD error ratio vs 1 - eta k/N: max deviation", ratio_dev, 1e-8,
             relation="le", source=RECON, noise_floor=1e-8)
ledger.check("7b", "control eta n/N = 2.5: first-step ratio = 1 - eta n/N", ratio_bad,
             1 - eta_bad * n_over_N, atol=1e-8, source=RECON, digits=6)
ledger.check("7c", "control eta n/N = 2.5: |error| grows (ratio of |error| after 3 steps)",
             abs(err_bad[3] / err_bad[0]), 1.0, relation="ge", source=RECON)

# %% [markdown]
# The oscillation grows until the threshold overshoots below the cluster; then $T_i=\emptyset$
# and the threshold freezes (a dead bias): the loss stays far from zero.
#
# ## 8. Separated versus overlapping clusters; the dead bias (solutions 2, 3) [paper,
# abstract (paraphrased): several types of solutions are discussed; ours: which ones]
#
# *Separated* clusters (one truncation map per cluster) decouple: each follows solution 1 with
# its own $k_\alpha/N$ (Secs. 3–5). *Overlapping* clusters under **one** shared truncation map:
# cluster 0 near $(0,0)$ and cluster 1 near $(0.5,3)$ share the first coordinate. By (E1) the
# threshold tracks the mean target of the currently truncated points and converges to the
# self-consistent value $\theta_i^*=\langle\bar y_i\rangle_{T_i(\theta^*)}$; in the second
# coordinate it stops at cluster 0's target, below cluster 1, which is never truncated there.

# %%
mus8 = np.array([[0.0, 0.0], [0.5, 3.0]])
X8 = mus8[labels] + SPREAD * rng.standard_normal((N, 2))
Ybar8 = mus8[labels] + 1.5
theta8 = np.sort(X8, axis=0)[:2].mean(axis=0)          # one shared threshold
S_END8 = 120.0
flow8 = rf.integrate_threshold_flow(X8, Ybar8, theta8, S_END8, s_eval=[0.0, S_END8])
theta_final = flow8.theta[-1, 0]
final_sets = X8 < theta_final
self_consistent = np.array([Ybar8[final_sets[:, i], i].mean() for i in range(2)])
limit_err = np.abs(theta_final - self_consistent).max()
loss8 = rf.diagonal_cost(theta_final, X8, Ybar8)
spread8 = rf.within_cluster_spread(np.maximum(X8, theta_final), labels)
print(f"final truncated sets: coord 1 {final_sets[:, 0].sum()} points, coord 2 "
      f"{final_sets[:, 1].sum()} points (cluster 0 only: "
      f"{bool(np.array_equal(final_sets[:, 1], labels == 0))})")
print(f"|theta(s_end) - <ybar>_T| = {limit_err:.1e}; loss {loss8:.3f}; spreads "
      f"{spread8[0]:.1e}, {spread8[1]:.3f}")

# %% [markdown]
# *Dead bias.* A threshold that starts below the whole cluster has $T_i=\emptyset$, so
# $\dot\theta_i=0$: it never moves, whatever the target.

# %%
theta_dead = theta0.copy()
theta_dead[1, 1] = X[labels == 1, 1].min() - 0.2
flow_dead = rf.integrate_threshold_flow(X, Ybar, theta_dead, S_END, groups=labels,
                                        s_eval=s_grid)
dead_move = float(np.abs(flow_dead.theta[:, 1, 1] - theta_dead[1, 1]).max())
print(f"dead threshold moved by {dead_move:.1e}; the other thresholds moved by "
      f"{np.abs(flow_dead.theta[-1, 0] - theta_dead[0]).min():.2f} or more")

# %%
ledger.check("8a", "overlapping clusters: |theta(s_end) - mean target of final truncated set|",
             limit_err, 1e-6, relation="le", source=RECON + " (solution 3)", noise_floor=1e-10)
ledger.check("8b", "overlapping clusters: no collapse, loss stays positive", loss8, 0.1,
             relation="ge", source=RECON + " (solution 3)")
ledger.check("8c", "dead bias: T_i empty => theta_i frozen (max displacement)", dead_move, 0.0,
             relation="le", source=RECON + " (solution 3)", noise_floor=1e-15)

# %% [markdown]
# ## What holds, and what is ours
#
# * Everything checked here holds for **our reconstruction**: the representation identity,
#   the effective flow (E1) as the Euclidean gradient flow of the input-layer cost in the
#   cumulative thresholds, monotone truncation with rate $k/N$ growing with the number
#   truncated, exact crossing times, collapse of each cluster to a point with zero loss, the
#   spectral-gap rate of the standard cost, and the GD contraction factor. These match the
#   qualitative claims of the abstract; whether they match the paper's own equations cannot
#   be checked without its body.
# * Two readings of "gradient descent" differ: the Euclidean flow in the cumulative variables
#   (E) and the flow induced by training per-layer biases (P) have the same truncation
#   geometry but rates rescaled by the metric $JJ^\top$ (claims 2b, 2c).
# * The spec's "late slope of $C_{\rm in}$ is $-n/N$" is corrected to $-2n/N$ (claim 5d);
#   $-n/N$ is the slope of $\sqrt{C_{\rm in}}$ (5c).
# * Monotonicity is conditional (3c): with a target inside a cluster points are released.
#   With one truncation map shared by overlapping clusters there is no collapse (8a, 8b).

# %% [markdown]
# ## Try it yourself
#
# Change one value in the `parameters` cell (the first code cell), re-run the whole notebook and
# compare with the numbers below; they come from our own quick-mode runs with the default seed.
# Restore the value before trying the next change.
#
# * **More points per cluster: `quick=16` in `N_PER_CLUSTER`** (default 8). The rate grows with every
#   truncated point **[paper]**, by $1/N$ per point **[ours]**, while the late rates depend only on
#   $n/N$, which stays $1/2$ **[ours]**. Observed: all 31 claims pass; 60 kinks instead of 28, each
#   adding $1/32$ instead of $1/16$ to the rate; the last crossing comes at $s_n = 4.32$ (default
#   3.78); the late slopes are again $-0.500$ ($\log\sqrt{C_{\rm in}}$), $-1.000$ ($\log C_{\rm in}$)
#   and $-0.2288$ (E2).
# * **A shorter flow: `S_END = 20.0`** (default 80). After the collapse $C_{\rm in}$ decays like
#   $e^{-2(n/N)s} = e^{-s}$ **[ours]**, so $C_{\rm in}(s_{\rm end})/C_{\rm in}(0)$ shrinks by a factor
#   $e$ per unit of flow time. Observed: $1.8\cdot10^{-8}$ at $s = 20$, so **claim 5e fails** (it asks
#   for $\le10^{-12}$); all other claims pass. `S_END = 32.0` gives $1.1\cdot10^{-13} =
#   1.8\cdot10^{-8}e^{-12}$, as predicted, and 5e passes again.
# * **Wider clusters: `SPREAD = 1.0`** (default 0.3). Collapse needs every target beyond its cluster
#   **[ours]**; with the default seed this still holds (the first printed line says so), so Sections
#   3–6 pass, but the wider clusters take longer to truncate: last crossing at $s_n = 17.1$ instead of
#   3.78. **Claim 7b then fails** (measured $-1.1875$, expected $-1.5$): its control starts $\theta$ at
#   the target minus 0.05, assuming all of cluster 0 lies below, but one point now lies in between, so
#   only $k = 7$ of 8 points are truncated and the first factor is $1-\eta\cdot7/N$. The law
#   $1-\eta k/N$ itself still holds (7a passes). With `SPREAD = 1.5` some points lie beyond their
#   target: two points are never fully truncated (no collapse), and the notebook stops with a
#   `ValueError` in Section 4, whose closed-form crossing times assume targets beyond the cluster.

# %% [markdown]
# ## Claims

# %%
# NBVAL_CHECK_OUTPUT
print(ledger.table())

# %%
ledger.publish("03_dynamical_truncation")
ledger.assert_all()
