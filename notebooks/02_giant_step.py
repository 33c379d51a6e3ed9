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
# # Two-layer networks learn features in one giant gradient step
#
# **Papers.** Y. Dandi, F. Krzakala, B. Loureiro, L. Pesce, L. Stephan, *How Two-Layer Neural
# Networks Learn, One (Giant) Step at a Time*, arXiv:2305.18270, JMLR 25(349), 2024; with the
# one-step spike of J. Ba, M. A. Erdogdu, T. Suzuki, Z. Wang, D. Wu, G. Yang, *High-dimensional
# Asymptotics of Feature Learning: How One Gradient Step Improves the Representation*,
# arXiv:2205.01445 (NeurIPS 2022).
#
# **The papers' claims** (abstracts, paraphrased; tagged **[paper]**):
# one giant gradient step on n = O(d) samples aligns the first layer with a *single* direction
# of the target, the linear one (Ba et al.: a rank-one spike); several directions at once
# (specialisation) need n = O(d²) samples; over several steps with fresh batches of n = O(d),
# a new direction is learned only if it is linearly connected, in the Hermite basis, to
# directions already learned (a *staircase*); after these steps, ridge on the second layer
# generalises better than random features.
#
# **Our reconstruction** (tagged **[ours]**): only the abstracts were available to us, not the
# theorem statements. The population-gradient expansion, the per-neuron cosine and spike
# predictions, the staircase mechanism, every example target and every numerical threshold below
# are our derivation, *consistent with the abstracts*, not quotations of the papers' theorems.
# The learning-curve protocol of §7 is the one of the authors' repository `lucpoisson/GiantStep`
# (**[code]**). The method note `docs/02_giant_step.md` collects the setting, the equations,
# what is reconstructed and why, and the conventions.
#
# **How to read the claims.** Every *evidence* claim names the alternative that would have failed
# it (a random-feature or no-learning run, a single-direction control, the linear predictor), with
# that alternative's number measured here or in our seed sweeps; the *consistency* claims of §1
# check our algebra and quadrature and are not counted as reproductions. Every evidence claim was
# checked over 41 seeds of the whole notebook (pass rates in `docs/02_giant_step.md`).
#
# **Conventions** (rows are neurons):
# $f(x) = \frac{1}{\sqrt p}\sum_{i\le p} a_i\,\sigma(\langle w_i, x\rangle)$,
# $L = \frac{1}{2n}\sum_\nu (y_\nu - f(x_\nu))^2$, $W^{t+1} = W^t - \eta\nabla_W L$ on a fresh
# $N(0, I_d)$ batch, $\eta = c\,p\,d^{(\ell-1)/2}$ for $n \asymp d^\ell$, the second layer frozen at
# the symmetrised initialisation (pairs $(w, a)$, $(w, -a)$ with $\sqrt p\,a_i = \pm 1$, so that
# $f \equiv 0$ at initialisation). Targets depend on $x_1, \dots, x_r$ ($W^* = [e_1 \dots e_r]$).
#
# **Sizes.** Every learned / not-learned statement is read from its scaling over
# $d \in \{256, 512, 1024\}$. These sizes fit the quick-mode budget (about 20 s of CPU on one core
# for all claims), so quick mode uses them too; quick and full mode differ only in §7, the
# authors' learning-curve protocol, which is run at paper scale only with `THEORY_FULL=1`.

# %% tags=["parameters"]
import numpy as np
import sympy as sp
from scipy.stats import linregress
import matplotlib.pyplot as plt
from theory import config, plotting
from theory import giant_step as gs
from theory import two_layer as tl
from theory import two_layer_predictions as tp
from theory.activations import hermite_coefficients, mean_derivative_sq
from theory.symbolic import two_layer as sym
from theory.claims import Ledger

SEED = config.SEED
DS = config.pick(quick=[256, 512, 1024], full=[256, 512, 1024])   # the d-scaling of every claim
ALPHA = 2                                  # n = alpha d samples per step
STAIR_P = 512                              # width of the staircase runs (§4)
ODD_ACTIVATION = "tanh"                    # the mu_2 = 0 activation of §4 ("tanh" or "erf")
STEPS = 3                                  # fresh-batch steps (§3-4)
SPECIAL_D, SPECIAL_P = 100, 256            # specialisation (§5)
LEARNED_OVERLAP = 0.4                      # a neuron is "learned" if ||P_V* w|| / ||w|| > this (§5)
RF_D, RF_P, RF_TEST = 256, 512, 10_000     # one step + ridge (§6)
RF_RIDGE = 16                              # n_ridge / d of the fresh ridge batch (§6)
RF_STEP_MULTIPLES = [2, 4, 8, 16, 32]      # n_step / d for the error figure; claims at 16 (and 2)
# The authors' single-step protocol [code]: paper scale in full mode, a small replica in quick mode.
PROTO_D = config.pick(quick=64, full=512)
PROTO_P = config.pick(quick=128, full=1024)
PROTO_SEEDS = config.pick(quick=3, full=10)
PROTO_TEST = config.pick(quick=20_000, full=100_000)
PROTO_KAPPAS = [1.3, 1.65, 2.0]

# %%
rng = np.random.default_rng(SEED)
section_rngs = dict(zip(["single", "he2", "stair", "special", "rf", "proto", "push"],
                        rng.spawn(7)))
plotting.use_style()
sp.init_printing(use_latex="mathjax")
ledger = Ledger("Giant step (Dandi et al., arXiv:2305.18270; Ba et al., arXiv:2205.01445)", seed=SEED,
                notebook="02_giant_step")
print(f"mode: {config.mode()}, d in {DS}")

# %% [markdown]
# ## 1. Hermite bookkeeping [ours]
#
# Every prediction below is written in the Hermite coefficients
# $\mu_k(\sigma) = \mathbb E[\sigma(\xi)\,\mathrm{He}_k(\xi)]$, $\xi\sim N(0,1)$, of the activation and
# $C_k = \mathbb E[g^*(h)\,\mathrm{He}_k(h)]$ of the target. For ReLU the coefficients are exact
# Gaussian integrals on the half line; for erf, Stein's lemma gives
# $\mu_k = \mathbb E[\mathrm{erf}^{(k)}(\xi)]$, again in closed form.

# %%
mu_relu_exact = sym.relu_hermite(5)
mu_erf_exact = sym.erf_hermite(3)
display(sp.Eq(sp.Symbol(r"\mu_{0..5}(\mathrm{ReLU})"), sp.Matrix([mu_relu_exact]), evaluate=False))
display(sp.Eq(sp.Symbol(r"\mu_{0..3}(\mathrm{erf})"), sp.Matrix([mu_erf_exact]), evaluate=False))

# %% [markdown]
# The numerical coefficients used by the simulations come from Gauss–Hermite quadrature
# (`numpy.polynomial.hermite_e`; ReLU through its polynomial branches, which is exact). We check
# them against the exact values above and against the closed forms $\mu_k(\mathrm{ReLU}) =
# (1/\sqrt{2\pi}, 1/2, 1/\sqrt{2\pi}, 0, -1/\sqrt{2\pi}, 0)$, $\mu_{0..3}(\mathrm{erf}) =
# (0, 2/\sqrt{3\pi}, 0, -4/(3\sqrt{3\pi}))$, $\mathbb E[\sigma'^2] = 1/2$ (ReLU) and
# $4/(\pi\sqrt5)$ (erf), which set the gradient-noise level. These are checks of our code
# (*consistency*), not of the paper.

# %%
mu = {name: hermite_coefficients(name, 5) for name in ("relu", "tanh", "erf")}
ds2 = {name: mean_derivative_sq(name) for name in ("relu", "tanh", "erf")}
s2pi = 1 / np.sqrt(2 * np.pi)
hermite_error = max(
    np.max(np.abs(mu["relu"] - np.array([float(v) for v in mu_relu_exact]))),
    np.max(np.abs(mu["relu"] - np.array([s2pi, 0.5, s2pi, 0.0, -s2pi, 0.0]))),
    np.max(np.abs(mu["erf"][:4] - np.array([float(v) for v in mu_erf_exact]))),
    np.max(np.abs(mu["erf"][:4] - np.array([0, 2 / np.sqrt(3 * np.pi), 0,
                                             -4 / (3 * np.sqrt(3 * np.pi))]))),
    abs(ds2["relu"] - 0.5), abs(ds2["erf"] - 4 / (np.pi * np.sqrt(5))),
    np.max(np.abs(mu["tanh"][[0, 2, 4]])))
tanh_rounding = max(np.max(np.abs(mu["tanh"][[1, 3, 5]] - np.array([0.6057, -0.3636, 0.6852]))),
                    abs(ds2["tanh"] - 0.4644))
for name in mu:
    print(f"{name:5s} mu_0..5 = " + " ".join(f"{v:+.4f}" for v in mu[name])
          + f"   E[sigma'^2] = {ds2[name]:.4f}")
ledger.check("C8a", "[ours] Hermite coefficients: quadrature = exact ReLU (k<=5), erf (k<=3), "
             "E[sigma'^2] of ReLU and erf; even tanh coefficients vanish",
             hermite_error, 1e-8, relation="le", kind="consistency",
             source="derived here (notebook §1)", noise_floor=1e-10)
ledger.check("C8b", "[ours] tanh mu_1, mu_3, mu_5 and E[tanh'^2] agree with 0.6057, -0.3636, "
             "0.6852, 0.4644 to their 4 printed decimals", tanh_rounding, 5e-5, relation="le",
             kind="consistency", source="derived here (notebook §1)", digits=2)

# %% [markdown]
# **The batch gradient.** At $d=3$, $p=2$, $n=2$ with a generic $\sigma$, sympy differentiates the
# loss and we compare with the closed form
# $-\nabla_{w_i}L = \frac1n\sum_\nu r_\nu\,\frac{a_i}{\sqrt p}\,\sigma'(\langle w_i, x_\nu\rangle)\,x_\nu$,
# $r = y - f$. This pins the $1/n$, $1/\sqrt p$ and $1/2$ factors that fix the scale of $\eta$:
# with $\eta = c\,p$ and $a_i = \pm 1/\sqrt p$ each neuron moves by $c\,\tilde a_i\,\hat g_i$,
# $\hat g_i = \frac1n\sum_\nu r_\nu\sigma'(\cdot)x_\nu$, which is $O(1)$.

# %%
grad_sym, grad_closed, grad_diff = sym.batch_gradient_check(d=3, p=2, n=2)
display(sp.Eq(sp.Symbol(r"\partial L/\partial W_{11}"), grad_sym[0, 0], evaluate=False))
gradient_identity = all(entry == 0 for entry in grad_diff)
print("symbolic gradient == closed form:", gradient_identity)

# %% [markdown]
# **Mehler and Stein.** For unit Gaussians with correlation $\rho$,
# $\mathbb E[\mathrm{He}_j(\xi)\mathrm{He}_k(h)] = \delta_{jk}\,k!\,\rho^k$, and
# $\mathbb E[\sigma'(\xi)\,h] = \rho\,\mathbb E[\sigma''(\xi)]$. With them the expected update of
# neuron $i$ (unit norm, $m_i = W^*w_i$, $f\equiv 0$) is [ours]
# $$\mathbb E[\Delta w_i] = c\,\tilde a_i\Big(W^{*\top}\big[\mu_1 C_1 + \mu_2 C_2 m_i + \tfrac{\mu_3}{2} C_3[m_i,m_i]+\dots\big]
#   + \mathbb E[g^*\sigma''(\xi_i)]\,w_i\Big),$$
# proportional to $a_i$; the order-$k$ term carries $\|m_i\|^{k-1}\approx d^{-(k-1)/2}$, which a
# learning rate $\eta\propto p\,d^{(\ell-1)/2}$ compensates exactly for $k=\ell$.

# %%
mehler, rho = sym.mehler_table(4)
display(sp.Eq(sp.Symbol(r"\mathbb{E}[He_j(\xi) He_k(h)]"), mehler, evaluate=False))
stein_residual = sym.stein_identity_residual(5)
x1, x2 = sp.symbols("x1 x2", real=True)
C0, C1, C2 = sym.target_hermite(x1 + x1 * x2, [x1, x2])
display(sp.Eq(sp.Symbol("C_1(x_1 + x_1 x_2)"), C1, evaluate=False),
        sp.Eq(sp.Symbol("C_2(x_1 + x_1 x_2)"), C2, evaluate=False))
_, C1_ex1, _ = sym.target_hermite((4 * x1 + x1**2 + x2) / 2, [x1, x2])
display(sp.Eq(sp.Symbol(r"C_1(\frac{1}{2}(4x_1 + x_1^2 + x_2))"), C1_ex1, evaluate=False))
display(sp.Eq(sp.Symbol(r"d^{(\ell-1)/2}\,d^{-(\ell-1)/2}"), sym.lr_exponent()[0], evaluate=False))
mehler_ok = sp.simplify(mehler - sp.diag(*[sp.factorial(k) * rho**k for k in range(5)])) \
    == sp.zeros(5, 5)
identities_ok = (gradient_identity and mehler_ok and stein_residual == 0
                 and C1 == sp.Matrix([1, 0]) and C2 == sp.Matrix([[0, 1], [1, 0]])
                 and C1_ex1 == sp.Matrix([2, sp.Rational(1, 2)]))
ledger.check("C8c", "[ours] sympy: batch gradient = closed form; Mehler table diag(k! rho^k); "
             "Stein E[s'(xi)h] = rho E[s'']; C1 = e1, C2 = [[0,1],[1,0]] of x1 + x1x2; "
             "C1 = (2, 1/2) of (4x1 + x1^2 + x2)/2", identities_ok, True, relation="true",
             kind="consistency", source="derived here (notebook §1; docs/02_giant_step.md)")

# %% [markdown]
# ## 2. One step at n = 2d: single-index alignment and the spike
#
# **Prediction [ours].** With $f\equiv 0$, $\|w_i^0\| = 1$, the update is
# $\Delta w_i = c\,\tilde a_i(\mu_1 C_1 + \hat\epsilon_i)$ where the batch noise $\hat\epsilon_i$ has
# $\|\hat\epsilon_i\|^2 \approx \mathbb E[y^2]\mathbb E[\sigma'^2]\,d/n$ and is nearly orthogonal to
# $w_i^0$ and $C_1$. Hence
# $$\cos(w_i^1, v^*) \approx \frac{c\,\tilde a_i\,\mu_1\|C_1\|}{\sqrt{1 + c^2\tilde a_i^2\,(\mu_1^2\|C_1\|^2 + \mathbb E[y^2]\,\mathbb E[\sigma'^2]/\alpha)}}.$$
# Summed over neurons, $\Delta W \approx c\,\mathrm{diag}(\tilde a)\,\mathbf 1\,(\mu_1 X^\top y/n)^\top$ is a
# rank-one spike (Ba et al., abstract) whose direction, the linear estimator $X^\top y/n$, has
# $|\langle v_1, v^*\rangle| \approx \sqrt{\alpha\|C_1\|^2/(\alpha\|C_1\|^2 + \mathbb E[y^2])}$.

# %%
cos_expr, cos_syms = sym.neuron_cosine_expression()
spike_expr, spike_syms = sym.spike_cosine_expression()
display(sp.Eq(sp.Symbol(r"\cos(w_i^1, v^*)"), cos_expr, evaluate=False),
        sp.Eq(sp.Symbol(r"|\langle v_1, v^*\rangle|"), spike_expr, evaluate=False))
stats = {name: tp.target_statistics(tl.make_target(name))
         for name in ("x1", "x1+x1x2", "he2(x1)", "x1+he2(x1)/2")}
pred_cos = {c: tp.predicted_neuron_cosine(c, ALPHA, mu["relu"][1], 1.0, 1.0, ds2["relu"])
            for c in (1.0, 2.0)}
pred_spike = {name: tp.predicted_spike_cosine(ALPHA, np.linalg.norm(stats[name]["c1"]),
                                              stats[name]["mean_sq"]) for name in ("x1", "x1+x1x2")}
print(f"predicted cos (y = x1, alpha = 2): c = 1: {pred_cos[1.0]:.4f}, c = 2: {pred_cos[2.0]:.4f}")
print("predicted spike alignment: " + ", ".join(f"{k}: {v:.4f}" for k, v in pred_spike.items()))

# %%
e = {d: np.eye(d)[:, :3] for d in DS}
single = {}
for d in DS:
    for name in ("x1", "x1+x1x2"):
        W0, a = tl.symmetric_init(d, d, section_rngs["single"])
        traj = tl.giant_steps(W0, a, tl.make_target(name), n=ALPHA * d,
                              lr=tl.learning_rate(1.0, d, d), rng=section_rngs["single"])
        align, s = tl.spike_alignment(traj[1] - traj[0], e[d][:, 0])
        single[d, name] = {"cos": tl.mean_abs_cosines(traj, e[d][:, :1])[1, 0],
                           "spike": align, "s1/s2": s[0] / s[1]}
print("   d  target    mean|cos e1|  spike |<v1,e1>|  s1/s2")
for (d, name), r in single.items():
    print(f"{d:5d}  {name:8s}  {r['cos']:.3f}         {r['spike']:.3f}            {r['s1/s2']:.1f}")

# %% [markdown]
# **The alternatives.** Without the batch-noise term the closed form would read
# $c\mu_1/\sqrt{1 + c^2\mu_1^2} = 0.447$ at $c = 1$ (0.04 above 0.408, outside C1's tolerance); a
# network that learned nothing keeps the chance level $\sqrt{2/\pi}/\sqrt d = 0.025$–$0.05$. A spike
# along the population direction $C_1$ alone would have $|\langle v_1, e_1\rangle| = 1$, an
# unaligned one $\approx d^{-1/2}$. An update with independent rows (no shared direction) of the
# same size has $\sigma_1/\sigma_2 \approx 1$ (the top of a Marchenko–Pastur bulk).
#
# **Averages over $d$.** The batch noise is largely shared by all neurons (§3), so each run's
# mean cosine and spike alignment carry one draw of it: about $\pm 0.013$ seed to seed for the
# cosine, and an occasional outlier for the spike of $y = x_1 + x_1x_2$ at $d = 256$ (0.62
# against 0.707 at one seed of 21). C1 and C2a therefore compare the predictions with the mean
# over the sizes, which are independent runs.

# %%
noiseless_cos = mu["relu"][1] / np.sqrt(1 + mu["relu"][1] ** 2)
cos_dev = abs(np.mean([single[d, "x1"]["cos"] for d in DS[1:]]) - pred_cos[1.0])
ledger.check("C1", f"[ours] 1 step, y = x1, n = {ALPHA}d, eta = p: mean over d >= {DS[1]} of "
             f"mean_i |cos(w_i, e1)| within 0.03 of the closed form {pred_cos[1.0]:.3f}",
             cos_dev, 0.03,
             relation="le", kind="evidence",
             alternative=f"the closed form without batch noise gives {noiseless_cos:.3f} "
             f"(deviation {noiseless_cos - pred_cos[1.0]:.3f}); no learning gives chance level "
             "0.025-0.05",
             source="derived here (notebook §2); paper abstract (single direction at n = O(d))",
             digits=2)
spike_dev = max(abs(np.mean([single[d, name]["spike"] for d in DS]) - pred_spike[name])
                for name in ("x1", "x1+x1x2"))
ledger.check("C2a", "[ours] spike: for y in {x1, x1 + x1x2}, the mean over d of |<v1, e1>| is "
             "within 0.05 of sqrt(alpha|C1|^2/(alpha|C1|^2 + E y^2)) ("
             + ", ".join(f"{v:.3f}" for v in pred_spike.values()) + "); worst target",
             spike_dev, 0.05, relation="le", kind="evidence",
             alternative="a spike along C1 alone (no batch noise) gives 1, deviations "
             + ", ".join(f"{1 - v:.2f}" for v in pred_spike.values())
             + "; an unaligned spike gives about d^-1/2 = 0.03-0.06",
             source="derived here (notebook §2); Ba et al. abstract (rank-one spike)", digits=2)
ledger.check("C2b", "[paper] the first step is a rank-one spike: min over d of s1/s2 of W1 - W0 "
             "for y = x1 above 5", min(single[d, "x1"]["s1/s2"] for d in DS), 5.0,
             relation="ge", kind="evidence",
             alternative="an update of the same size with independent rows (no shared "
             "direction) has s1/s2 close to 1 (top of a Marchenko-Pastur bulk)",
             source="Ba et al., abstract", digits=2)

# %% [markdown]
# For $y = x_1 + x_1x_2$ the ratio $\sigma_1/\sigma_2$ is smaller
# (see the table): the $x_1x_2$ term adds a second, weaker singular direction at finite $d$ (its
# ratio grows with $d$). C2b therefore reads the rank-one statement on the single-index run.
#
# ## 3. No linear term, no learning at n = Θ(d)
#
# For $y = \mathrm{He}_2(x_1)$, $C_1 = 0$: the order-2 term of the expansion carries
# $\|m_i\| \approx d^{-1/2}$, so at $\eta = c\,p$ the overlap stays at the noise level
# $\approx 0.8/\sqrt d$ (the mean of $|N(0, 1/d)|$). The $y = x_1$ control at $c = 2$ is predicted
# at $1/\sqrt 3$ by the formula above.

# %% [markdown]
# One caveat for the measurement: the batch noise is largely *shared* by all neurons (the part
# $\tfrac12\,X^\top y/n$ of every neuron's gradient is the same vector), so the mean over neurons of
# a noise-level overlap is essentially one Gaussian draw per run. For the He2 runs we therefore
# average over `HE2_SEEDS` independent runs per $d$ before reading the scaling.

# %%
HE2_SEEDS = 4
NOISE_SLOPE_BAND = (-0.85, -0.15)          # predicted log-log slope of an unlearned overlap: -1/2
he2_runs, he2_each = {}, {}
for d in DS:
    for name, seeds in (("he2(x1)", HE2_SEEDS), ("x1", 1)):
        values = []
        for _ in range(seeds):
            W0, a = tl.symmetric_init(d, d, section_rngs["he2"])
            traj = tl.giant_steps(W0, a, tl.make_target(name), n=ALPHA * d, steps=STEPS,
                                  lr=tl.learning_rate(2.0, d, d), rng=section_rngs["he2"])
            values.append(tl.mean_abs_cosines(traj, e[d][:, :1])[:, 0])
        he2_each[d, name] = np.array(values)
        he2_runs[d, name] = np.mean(values, axis=0)
print("   d  target     mean|cos e1| for t = 0..3     sqrt(d) x value at t = 1")
for (d, name), v in he2_runs.items():
    print(f"{d:5d}  {name:8s}  " + " ".join(f"{x:.3f}" for x in v)
          + f"     {np.sqrt(d) * v[1]:.2f}")


def log_slope(name, t, source=None):
    """linregress of log(step-t overlap) on log d over every run (scipy.stats)."""
    source = he2_each if source is None else source
    xs = np.concatenate([np.full(len(source[d, name]), np.log(d)) for d in DS])
    ys = np.log(np.concatenate([source[d, name][:, t] for d in DS]))
    return linregress(xs, ys)


he2_fit, x1_fit = log_slope("he2(x1)", 1), log_slope("x1", 1)
print(f"log-log slope of the step-1 overlap against d: He2(x1) {he2_fit.slope:.3f} "
      f"(stderr {he2_fit.stderr:.3f}; noise predicts -0.5), control y = x1 {x1_fit.slope:.3f} "
      "(learned: 0)")

# %% [markdown]
# The slope is fitted over the $3\times 4$ individual runs. Its seed-to-seed spread is about
# 0.13 (our sweep), so the predicted interval for "not learned" is $-1/2 \pm 0.35$; a learned
# overlap is flat (slope $\approx 0$, as the $y = x_1$ control shows) and falls outside it.

# %%
he2_step1 = [he2_runs[d, "he2(x1)"][1] for d in DS]
ledger.check("C3a", f"[paper] a leap-2 target y = He2(x1) is not learned by one step at n = 2d "
             f"(c = 2): max over d >= {DS[1]} of step-1 mean|cos e1| < 0.15",
             max(he2_step1[1:]), 0.15, relation="le", kind="evidence",
             alternative="if it were learned like the y = x1 control, the overlap would be "
             f"about {pred_cos[2.0]:.2f} (closed form at c = 2)",
             source="paper abstract (hard directions need n = O(d^l)); derived here")
ledger.check("C3b", "[ours] y = He2(x1): log-log slope over d of the step-1 overlap "
             f"(linregress over {HE2_SEEDS} runs per d) lies in the noise band "
             f"[{NOISE_SLOPE_BAND[0]}, {NOISE_SLOPE_BAND[1]}] around -1/2", he2_fit.slope,
             float(np.mean(NOISE_SLOPE_BAND)), atol=float(np.diff(NOISE_SLOPE_BAND)[0] / 2),
             kind="evidence",
             alternative=f"a learned overlap is flat: the y = x1 control has slope "
             f"{x1_fit.slope:.3f}", source="derived here (notebook §3)", digits=2)
ledger.check("C3c", "[ours] control y = x1, c = 2: min over d of step-1 mean|cos e1| > 0.35 "
             f"(predicted {pred_cos[2.0]:.3f})", min(he2_runs[d, "x1"][1] for d in DS), 0.35,
             relation="ge", kind="evidence",
             alternative="no learning at c = 2 (as for He2 above) stays below 0.1",
             source="derived here (notebook §2 closed form)")

# %% [markdown]
# The He2 overlap creeps up with $T$ at fixed $d$ (compare the $t = 2, 3$
# columns with $t = 1$): the overlap multiplies by roughly $1 + O(c\mu_2)$ per step starting from
# $d^{-1/2}$, so escaping takes $O(\log d)$ steps. It must therefore be read against $d$ at fixed
# $t$, which is what C3a–b do for $t = 1$.
#
# ## 4. The staircase over fresh-batch steps, and the activation's Hermite coefficients
#
# **Mechanism [ours].** For $y = x_1 + x_1x_2$ the first step learns $x_1$ only ($C_1 = e_1$). At
# step 2 neuron $i$ has an $O(1)$ overlap $m_{i1}$ with $e_1$, and Stein's lemma gives the
# $e_2$-component of the expected update
# $\mathbb E[y\,\sigma'(\xi)\,x_2] = m_{1}\,\mathbb E[\sigma''(\xi)] + m_{2}\,\mathbb E[y\,\sigma''(\xi)]$
# — an $O(1)$ push along $e_2$ proportional to $m_{i1}\,\mathbb E[\sigma'']$. For ReLU
# $\mathbb E[\sigma''(\xi)] = 1/(\sqrt{2\pi}\,\|w\|)$; for odd activations (tanh, erf) it is $0$, so the
# staircase stalls. For $y = x_1 + x_2x_3$ no new direction enters *linearly* given $x_1$, and
# $x_2, x_3$ stay hidden.

# %%
stair_value, stair_stein, (m1, m2) = sym.staircase_coefficient(4)
display(sp.Eq(sp.Symbol(r"\mathbb{E}[(x_1 + x_1 x_2)\,\sigma'(\xi)\,x_2]"), sp.factor(stair_value),
              evaluate=False))
print("equals the Stein form m1 E[s''] + m2 E[y s'']:", sp.simplify(stair_value - stair_stein) == 0)
display(sp.Eq(sp.Symbol(r"\mathbb{E}[\mathrm{ReLU}''(\xi)],\ \xi\sim N(0,q^2)"),
              sym.relu_second_derivative_mean()[0], evaluate=False))

# %%
# NBVAL_IGNORE_OUTPUT
stair = {}
stair_traj = {}
for act in ("relu", ODD_ACTIVATION):
    for d in DS:
        for name in ("x1+x1x2", "x1+x2x3"):
            W0, a = tl.symmetric_init(d, STAIR_P, section_rngs["stair"])
            traj = tl.giant_steps(W0, a, tl.make_target(name), n=ALPHA * d, steps=STEPS,
                                  lr=tl.learning_rate(2.0, STAIR_P, d), rng=section_rngs["stair"],
                                  activation=act)
            stair[act, d, name] = tl.mean_abs_cosines(traj, e[d])     # (T+1, 3)
            stair_traj[act, name, d] = (traj, a)
print("done")

# %%
print("act    d  target    t:  mean|cos e1|  mean|cos e2|  mean|cos e3|   (sqrt(d) x cos e2)")
for (act, d, name), v in stair.items():
    for t in range(1, STEPS + 1):
        print(f"{act:5s} {d:4d} {name:9s} {t}:  {v[t, 0]:.3f}         {v[t, 1]:.3f}         "
              f"{v[t, 2]:.3f}          {np.sqrt(d) * v[t, 1]:.2f}")

# %% [markdown]
# **The step-2 coefficient, quantitatively [ours].** Given the weights $w_i^1$ after step 1, the
# population $e_2$-move of neuron $i$ in step 2 is
# $c\,\tilde a_i\,\langle w_i^1, e_1\rangle\,\mathbb E[\sigma''] = c\,\tilde a_i\,\langle w_i^1, e_1\rangle / (\sqrt{2\pi}\,\|w_i^1\|)$ for
# ReLU, up to finite-$d$ corrections (the network output $f^1 \neq 0$ in the residual, the
# $m_{i2}\,\mathbb E[y\sigma'']$ term). One batch of $n = 2d$ moves the neuron average by this
# amount plus an $O(\sqrt{d/n}\,/\sqrt d)$ batch fluctuation that does *not* average out over
# neurons, so we compare the prediction with the move averaged over `PUSH_BATCHES` fresh batches
# from the same $W^1$ (tolerance ours: 10 %, about three standard errors of that average).

# %%
PUSH_BATCHES = 16
push = {}
for d in DS:
    traj, a = stair_traj["relu", "x1+x1x2", d]
    a_tilde = a * np.sqrt(STAIR_P)
    lr = tl.learning_rate(2.0, STAIR_P, d)
    predicted = np.mean(2.0 * a_tilde * traj[1][:, 0]
                        / (np.sqrt(2 * np.pi) * np.linalg.norm(traj[1], axis=1)))
    moves = []
    for _ in range(PUSH_BATCHES):
        X, y = tl.sample_batch(ALPHA * d, d, tl.make_target("x1+x1x2"), section_rngs["push"])
        moves.append(np.mean(-lr * tl.batch_gradient(X, y, traj[1], a)[0][:, 1]))
    push[d] = (predicted, np.mean(moves), np.std(moves))
    print(f"d = {d:4d}: mean_i e2-move of step 2 = {push[d][1]:.3f} (batch-to-batch std "
          f"{push[d][2]:.3f}), Stein prediction {predicted:.3f}")
ledger.check("C4f", "[ours] step-2 e2-move (mean over neurons and 16 batches) matches the Stein "
             "coefficient c a_i <w_i, e1> E[relu''] within 10%: max relative deviation over d",
             max(abs(m - pr) / pr for pr, m, _ in push.values()), 0.1, relation="le",
             kind="evidence",
             alternative="without the Stein term (an odd activation, E[sigma''] = 0) the "
             "predicted move is 0, a 100% deviation",
             source="derived here (notebook §4; docs/02_giant_step.md)", digits=2)

# %% [markdown]
# "Learned" means flat in $d$, "not learned" means decaying like $d^{-1/2}$, i.e. a constant
# $\sqrt d\cdot\cos \approx 0.8$. We read "the $t = 2$ value is not decreasing in $d$" as: its
# log–log slope against $d$ (`scipy.stats.linregress`) is above $-1/4$, halfway between learned
# ($0$) and noise ($-1/2$). For the control $y = x_1 + x_2x_3$ the same fit over $e_2$ and $e_3$
# at the same step $t = 2$ must lie in the noise band $-1/2 \pm 0.35$ of §3. The control's
# $\sqrt d\cdot\cos$ drifts up slowly with $t$ and $d$ (from about 0.8 at $t = 1$ to 1.0–1.4 at
# $t = 3$ in our sweep), the same finite-$d$ creep as for He2 in §3: a fixed bound on
# $\sqrt d\cdot\cos$ has little power, and at $t = 3$ the slope reaches the edge of the band
# at one seed in 21 ($-0.15$), so the claim reads the slope at $t = 2$ and prints $t = 3$.
# "Not learned at the first step" (C4d) averages $\sqrt d\cdot\cos$ over the three sizes
# (independent runs): 0.8–1.5 over 21 seeds, against 3.5–4.1 for the learned $t = 2$ level.

# %%
e2_t2 = np.array([stair["relu", d, "x1+x1x2"][2, 1] for d in DS])
slope_t2 = linregress(np.log(DS), np.log(e2_t2)).slope
control_fits = {t: linregress(np.repeat(np.log(DS), 2),
                              np.log([stair["relu", d, "x1+x2x3"][t, k] for d in DS
                                      for k in (1, 2)])) for t in range(1, STEPS + 1)}
control_fit = control_fits[2]
print(f"log-log slopes against d: staircase e2 at t = 2: {slope_t2:.3f}; control e2, e3 at "
      "t = 1, 2, 3: " + ", ".join(f"{f.slope:.3f}" for f in control_fits.values()))
ledger.check("C4a", f"[paper] staircase: y = x1 + x1x2 (ReLU, p = {STAIR_P}, c = 2) learns e2 "
             "at the second fresh-batch step: min over d of mean|cos e2| after t = 2 >= 0.1",
             e2_t2.min(), 0.1, relation="ge", kind="evidence",
             alternative="not learned: chance level sqrt(2/pi/d) = 0.025-0.05",
             source="paper abstract (staircase); derived here")
ledger.check("C4b", "[ours] staircase: log-log slope over d of the t = 2 value of mean|cos e2| "
             "> -1/4 (flat, not noise-like -1/2)", slope_t2, -0.25, relation="ge",
             kind="evidence", alternative="an unlearned overlap has slope -1/2 (the control "
             f"y = x1 + x2x3: {control_fit.slope:.2f})", source="derived here", digits=2)
ledger.check("C4c", "[ours] staircase: t = 3 value of mean|cos e2| exceeds the t = 2 value at "
             "every d", bool(all(stair["relu", d, "x1+x1x2"][3, 1] > stair["relu", d,
                                 "x1+x1x2"][2, 1] for d in DS)), True, relation="true",
             kind="evidence",
             alternative="a staircase that stalls after one push would repeat the t = 2 value "
             "up to batch noise (+-0.02), failing at about half of the d values",
             source="derived here")
noise_t1 = np.mean([np.sqrt(d) * stair["relu", d, "x1+x1x2"][1, 1] for d in DS])
learned_t2 = np.mean([np.sqrt(d) * stair["relu", d, "x1+x1x2"][2, 1] for d in DS])
ledger.check("C4d", "[paper] staircase: e2 is not learned at the first step: mean over d of "
             "sqrt(d) mean|cos e2| after t = 1 < 2 (chance level 0.8)", noise_t1, 2.0,
             relation="le", kind="evidence",
             alternative=f"e2 learned in one step, at its t = 2 level, would give {learned_t2:.1f}",
             source="paper abstract (staircase)", digits=2)
ledger.check("C4e", "[paper] y = x1 + x2x3: e2, e3 are not linearly connected to e1 and stay "
             "unlearned: at t = 2 (when the staircase target has learned e2) the log-log slope "
             "over d of mean|cos e2|, mean|cos e3| lies in the noise band "
             f"[{NOISE_SLOPE_BAND[0]}, {NOISE_SLOPE_BAND[1]}]",
             control_fit.slope, float(np.mean(NOISE_SLOPE_BAND)),
             atol=float(np.diff(NOISE_SLOPE_BAND)[0] / 2), kind="evidence",
             alternative=f"a learned direction is flat in d (the staircase e2 slope: "
             f"{slope_t2:.2f})", source="paper abstract (staircase); derived here", digits=2)
odd_e2 = max(np.sqrt(d) * stair[ODD_ACTIVATION, d, "x1+x1x2"][STEPS, 1] for d in DS)
relu_e2 = min(stair["relu", d, "x1+x1x2"][STEPS, 1] for d in DS)
relu_e2_scaled = min(np.sqrt(d) * stair["relu", d, "x1+x1x2"][STEPS, 1] for d in DS)
ledger.check("C5a", f"[ours] {ODD_ACTIVATION} (mu_2 = 0), y = x1 + x1x2: after 3 steps max over "
             "d of sqrt(d) mean|cos e2| < 2", odd_e2, 2.0, relation="le", kind="evidence",
             alternative=f"ReLU (mu_2 != 0) at the same sizes gives at least "
             f"{relu_e2_scaled:.1f}", source="derived here (E[sigma''] = 0 for odd sigma)",
             digits=2)
ledger.check("C5b", "[ours] ReLU, same target: after 3 steps min over d of mean|cos e2| > 0.2",
             relu_e2, 0.2, relation="ge", kind="evidence",
             alternative=f"an odd activation gives chance level (here {ODD_ACTIVATION}: max "
             f"{max(stair[ODD_ACTIVATION, d, 'x1+x1x2'][STEPS, 1] for d in DS):.3f})",
             source="derived here")
ledger.check("C5c", f"[ours] {ODD_ACTIVATION} still learns e1: min over d of mean|cos e1| after "
             "1 step > 0.35", min(stair[ODD_ACTIVATION, d, "x1+x1x2"][1, 0] for d in DS), 0.35,
             relation="ge", kind="evidence",
             alternative="a network that learned nothing stays at chance level 0.025-0.05",
             source="derived here (mu_1 != 0 for tanh and erf)")

# %% [markdown]
# **Figure 1: per-neuron cosines after steps 1 and 2** (middle $d$, 512 by default; signed cosines times
# $\mathrm{sign}(a_i)$ on $e_1$; raw on $e_2$). After step 1 all neurons sit at $\pm$ the same
# $e_1$-overlap with $e_2$ at noise level. After step 2 the staircase target moves every neuron
# along $+e_2$ (the push $\propto \tilde a_i m_{i1} \propto \tilde a_i^2$ has the same sign for all), the
# control does not, and neither does the odd activation (tanh by default).

# %%
fig, axes = plotting.figure("triple", ncols=3, sharex=True, sharey=True)
panels = [("relu", "x1+x1x2", "ReLU, y = x1 + x1x2"), ("relu", "x1+x2x3", "ReLU, y = x1 + x2x3"),
          (ODD_ACTIVATION, "x1+x1x2", f"{ODD_ACTIVATION}, y = x1 + x1x2")]
for ax, (act, name, title) in zip(axes, panels):
    traj, a = stair_traj[act, name, DS[1]]
    for t, color in ((1, "C0"), (2, "C3")):
        cos = tl.neuron_cosines(traj[t], e[DS[1]][:, :2])
        ax.scatter(cos[:, 0] * np.sign(a), cos[:, 1], s=6, alpha=0.5, color=color,
                   label=f"step {t}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title(title)
    ax.set_xlabel(r"$\mathrm{sign}(a_i)\cos(w_i, e_1)$")
axes[0].set_ylabel(r"$\cos(w_i, e_2)$")
axes[0].legend()
plotting.savefig(fig, ledger.notebook, "neuron_cosines_steps_1_2")
plt.show()

# %% [markdown]
# **Figure 2: overlap against d** (log axes). Learned directions are flat; unlearned ones follow
# the noise line $\sqrt{2/\pi}\,d^{-1/2}$.

# %%
fig, ax = plotting.figure("wide")
dd = np.array(DS)
curves = [("y = x1, e1, t = 1 (c = 1)", [single[d, "x1"]["cos"] for d in DS], "C0", "o-"),
          (f"He2(x1), e1, t = 1 (mean of {HE2_SEEDS} runs)", he2_step1, "C1", "s-"),
          ("x1 + x1x2, e2, t = 1", [stair["relu", d, "x1+x1x2"][1, 1] for d in DS], "C2", "v--"),
          ("x1 + x1x2, e2, t = 2", e2_t2, "C2", "v-"),
          ("x1 + x1x2, e2, t = 3", [stair["relu", d, "x1+x1x2"][3, 1] for d in DS], "C2", "^-"),
          ("x1 + x2x3, e2, t = 3", [stair["relu", d, "x1+x2x3"][3, 1] for d in DS], "C4", "d-"),
          (f"{ODD_ACTIVATION}, x1 + x1x2, e2, t = 3",
           [stair[ODD_ACTIVATION, d, "x1+x1x2"][3, 1] for d in DS], "C5", "x-")]
for label, values, color, style in curves:
    ax.plot(dd, values, style, color=color, label=label, ms=4)
ax.plot(dd, np.sqrt(2 / np.pi) / np.sqrt(dd), "k:", label=r"noise $\sqrt{2/\pi}\,d^{-1/2}$")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("d")
ax.set_ylabel(r"mean$_i\,|\cos(w_i, e_k)|$")
ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
plotting.savefig(fig, ledger.notebook, "overlap_vs_d")
plt.show()

# %% [markdown]
# ## 5. Specialisation needs n ≍ d²
#
# $d = 100$, $p = 256$, one step. We project each neuron on $V^* = \mathrm{span}(e_1, e_2)$,
# normalise, and take the eigenvalue ratio $\lambda_{\min}/\lambda_{\max}$ of the $2\times2$ Gram
# matrix of these projections: $\approx 0$ when all neurons share one direction, $\approx 1$ when
# they spread out. For the pure second-order target $(\mathrm{He}_2(x_1)+\mathrm{He}_2(x_2))/2$ the
# order-2 term $\mu_2 C_2 m_i = \mu_2 m_i$ points along each neuron's *own* projection: with
# $n = d^2$ and $\eta = p\sqrt d$ it becomes $O(1)$ and the neurons fan out over $V^*$.
#
# **Why the ratio over all neurons has no power.** At initialisation the projections are
# isotropic in $V^*$, so the ratio over *all* neurons is already 0.7–1.0, and it stays 0.3–0.9
# when nothing is learned ($n = 2d$; both ranges over 31 seeds of our sweep): a large ratio does
# not show that anything was learned. We
# therefore take the ratio over the **learned** neurons only (overlap
# $\|P_{V^*}w_i\|/\|w_i\| >$ `LEARNED_OVERLAP` $= 0.4$; at initialisation the overlap is about
# $\sqrt{2/d} = 0.14$ and exceeds 0.4 with probability $\approx (1-0.16)^{49} \approx 2\cdot10^{-4}$),
# and compare with a **one-direction control**, $y = \mathrm{He}_2(x_1)$ at the same $n = d^2$ and
# $\eta$: there the order-2 term $2\mu_2 m_{i1} e_1$ moves every learned neuron along $e_1$ only,
# so the learned neurons share one direction and their ratio is near 0.

# %%
U2 = np.eye(SPECIAL_D)[:, :2]
special = {}
for label, name, n, leap in (("linear, n = 2d", "x1+x2", 2 * SPECIAL_D, 1),
                             ("He2, n = d^2", "(he2(x1)+he2(x2))/2", SPECIAL_D**2, 2),
                             ("He2(x1) only, n = d^2", "he2(x1)", SPECIAL_D**2, 2),
                             ("He2, n = 2d", "(he2(x1)+he2(x2))/2", 2 * SPECIAL_D, 1)):
    W0, a = tl.symmetric_init(SPECIAL_D, SPECIAL_P, section_rngs["special"])
    traj = tl.giant_steps(W0, a, tl.make_target(name), n=n,
                          lr=tl.learning_rate(1.0, SPECIAL_P, SPECIAL_D, leap),
                          rng=section_rngs["special"])
    ratio_learned, fraction = tl.learned_specialisation(traj[1], U2, LEARNED_OVERLAP)
    special[label] = {"ratio": tl.specialisation_ratio(traj[1], U2),
                      "ratio0": tl.specialisation_ratio(traj[0], U2),
                      "learned ratio": ratio_learned, "learned": fraction,
                      "gain": tl.subspace_overlap(traj[1], U2).mean()
                      / tl.subspace_overlap(traj[0], U2).mean(),
                      "angles": np.degrees(tl.principal_angles_to(traj[1] - traj[0], U2))}
print("run                    ratio(init) ratio(all) learned  ratio(learned)  overlap gain  "
      "principal angles of W1 - W0 to V*")
for label, r in special.items():
    print(f"{label:22s} {r['ratio0']:.3f}       {r['ratio']:.3f}      {r['learned']:.3f}    "
          f"{r['learned ratio']:.3f}           {r['gain']:.2f}          "
          f"{r['angles'][0]:.0f}, {r['angles'][1]:.0f} deg")

# %%
ledger.check("C6a", "[paper] at n = O(d) one step learns a single direction: y = x1 + x2, "
             "n = 2d, eta = p: specialisation ratio of the learned neurons < 0.1",
             special["linear, n = 2d"]["learned ratio"], 0.1, relation="le", kind="evidence",
             alternative="neurons spread over V* give a ratio near 1 (the n = d^2 He2 run: "
             f"{special['He2, n = d^2']['learned ratio']:.2f})",
             source="paper abstract (single direction at n = O(d))", digits=2)
ledger.check("C6b", "[paper] at n = d^2 the neurons specialise: y = (He2(x1) + He2(x2))/2, "
             f"eta = p sqrt(d): ratio over the learned neurons (overlap > {LEARNED_OVERLAP}) > 0.3",
             special["He2, n = d^2"]["learned ratio"], 0.3, relation="ge", kind="evidence",
             alternative="learned neurons sharing one direction, as for the one-direction "
             "control y = He2(x1) at the same n and eta: "
             f"{special['He2(x1) only, n = d^2']['learned ratio']:.3f}",
             source="paper abstract (specialisation needs n = O(d^2))", digits=2)
ledger.check("C6c", "[ours] same, n = d^2: V*-overlap gain over initialisation > 2",
             special["He2, n = d^2"]["gain"], 2.0, relation="ge", kind="evidence",
             alternative="nothing learned (n = 2d, same target): gain "
             f"{special['He2, n = 2d']['gain']:.2f}",
             source="derived here", digits=2)
ledger.check("C6d", "[paper] the same target is not learned at n = 2d, eta = p: fraction of "
             f"neurons with overlap > {LEARNED_OVERLAP} below 0.1",
             special["He2, n = 2d"]["learned"], 0.1, relation="le", kind="evidence",
             alternative="learning as at n = d^2 gives a learned fraction "
             f"{special['He2, n = d^2']['learned']:.2f}",
             source="paper abstract (hard directions need n = O(d^l))", digits=2)
ledger.check("C6e", "[ours] control y = He2(x1), n = d^2: the learned neurons share one "
             "direction (ratio over learned neurons < 0.3), so C6b measures the target's spread "
             "and not the protocol", special["He2(x1) only, n = d^2"]["learned ratio"], 0.3,
             relation="le", kind="evidence",
             alternative="if the ratio reflected the isotropic initialisation rather than what "
             f"is learned, it would be near the init value "
             f"{special['He2(x1) only, n = d^2']['ratio0']:.2f}",
             source="derived here (notebook §5)", digits=2)

# %% [markdown]
# ## 6. One step plus ridge beats the linear predictor when n ≫ d
#
# $y = x_1 + \mathrm{He}_2(x_1)/2$, $d = 256$, $p = 512$, one step at $c = 2$ on $n_{\rm step}$
# samples, then ridge ($\lambda = 0.1$) of the second layer on a *fresh* batch of
# $n_{\rm ridge} = 16d$, test error on $10^4$ points. The best linear predictor has population
# error $\mathbb E[y^2] - \|C_1\|^2 = 0.5$, and **no** predictor linear in $x$ can go below it; the
# linear predictor fitted on the same ridge batch does worse ($\approx 0.58$). Beating it requires
# fitting the quadratic part $\mathrm{He}_2(x_1)/2$, which ridge on the stepped features can do only
# if the features are aligned with $x_1$ [ours, consistent with Ba et al., abstract: with a large
# step the trained features can beat random features and rotation-invariant kernels].
#
# After one step the neuron cosine with $e_1$ is $c\mu_1/\sqrt{1 + c^2(\mu_1^2 + \mathbb E[y^2]
# \mathbb E[\sigma'^2]/\alpha)}$ (§2), $0.53$ at $\alpha = n_{\rm step}/d = 2$ and $0.68$ at
# $\alpha = 16$ (printed below): with $n \gg d$ the learned direction is clean enough for ridge to fit the
# quadratic part. The claims are read at $n_{\rm step} = 16d$; at $n_{\rm step} = 2d$ the
# one-step error stays near the population linear line (our sweep: 0.51–0.54), which is why
# "one step beats the linear predictor" is claimed only for $n \gg d$. Random features (ridge on
# $W^0$, the same ridge batch and $\lambda$) are shown for context only: with $p/2 = d$ distinct
# random directions they do not even reach the linear error ($\approx 1.0$), so beating them is
# no evidence of feature learning.

# %%
rf = {}
for m in RF_STEP_MULTIPLES:
    rf[m] = gs.one_step_vs_random_features(RF_D, RF_P, tl.make_target("x1+he2(x1)/2"),
                                           n_step=m * RF_D, n_ridge=RF_RIDGE * RF_D,
                                           n_test=RF_TEST, c=2.0, lam=0.1, rng=section_rngs["rf"])
linear_population = tp.best_linear_error(tl.make_target("x1+he2(x1)/2"))
rf_stats = stats["x1+he2(x1)/2"]
print(f"n_ridge = {RF_RIDGE}d; population linear error {linear_population:.3f}; predicted "
      "neuron cosine after the step: " + ", ".join(
          f"n_step = {m}d: {tp.predicted_neuron_cosine(2.0, m, mu['relu'][1], 1.0, rf_stats['mean_sq'], ds2['relu']):.3f}"
          for m in (2, 16)))
print("n_step/d  one step  fitted linear  random features (context)")
for m, r in rf.items():
    print(f"{m:8d}  {r.one_step:.3f}     {r.linear:.3f}          {r.random_features:.3f}")

# %%
ledger.check("C7a", "[ours] n_step = 16d >> d: one-step + ridge test error < 0.8 x the "
             "linear predictor fitted on the same ridge batch",
             rf[16].one_step / rf[16].linear, 0.8, relation="le", kind="evidence",
             alternative="a predictor using x1 only linearly, even exactly, gives ratio "
             f"{linear_population / rf[16].linear:.2f} (population / fitted linear error); "
             "one step at n_step = 2d gives "
             f"{rf[2].one_step / rf[2].linear:.2f}",
             source="derived here (notebook §6); cf. Ba et al. abstract", digits=2)
ledger.check("C7b", "[ours] n_step = 16d: one-step + ridge test error < 0.45, below the "
             f"population error {linear_population:.2f} of every linear predictor",
             rf[16].one_step, 0.45, relation="le", kind="evidence",
             alternative=f"any linear predictor has error >= {linear_population:.2f}; one step "
             f"at n_step = 2d gives {rf[2].one_step:.3f}, random features "
             f"{rf[16].random_features:.2f}", source="derived here (notebook §6)", digits=2)

# %% [markdown]
# **Figure 3: test error against the step batch** of ridge on the features after one step, of
# the linear predictor fitted on the ridge batch, of the population best linear predictor, and
# (context) of ridge on the random features $W^0$.

# %%
fig, ax = plotting.figure("single")
ms = np.array(RF_STEP_MULTIPLES)
ax.plot(ms, [rf[m].one_step for m in ms], "o-", label="one giant step + ridge")
ax.plot(ms, [rf[m].linear for m in ms], "^--", label="linear, fitted on the ridge batch")
ax.plot(ms, [rf[m].random_features for m in ms], "s:", color="0.5",
        label="random features (W0) + ridge")
ax.axhline(linear_population, color="k", ls=":", label="best linear (population) = 0.5")
ax.set_xscale("log", base=2)
ax.set_xlabel(r"step batch $n_{\rm step}/d$")
ax.set_ylabel("test MSE")
ax.set_title(r"$y = x_1 + \mathrm{He}_2(x_1)/2$, $d = 256$, $p = 512$, $n_{\rm ridge} = 16d$")
ax.legend()
plotting.savefig(fig, ledger.notebook, "test_error_one_step_vs_linear")
plt.show()

# %% [markdown]
# ## 7. The authors' single-step protocol [code]
#
# The official `single_step` notebook (`lucpoisson/GiantStep`, commit `74e72d9`): $d = 512$,
# $p = 1024$, $n = \lfloor d^\kappa\rfloor$ for $\kappa\in\{1.3, 1.65, 2\}$ (3326, 29532, 262144),
# Gaussian $W^0$ and $a^0$, ReLU, teacher $y = [g(\theta_1\cdot x) + g(\theta_2\cdot x)]/2$ with
# $g = \mathrm{He}_1 + \mathrm{He}_2/2 + \mathrm{He}_4/24$, no label noise, the mean and linear part of
# $y$ removed before the step, $\eta = 10\sqrt{np}$, ridge $\lambda = 1$ on the features
# $\sigma(XW_1^\top)/\sqrt p$ of the step batch, test error on $10^5$ points, 10 seeds. The
# notebook prints the test error (mean, std over its 10 seeds) **0.3360 ± 0.0063, 0.2068 ± 0.0059,
# 0.0774 ± 0.0021** for $\kappa = 1.3, 1.65, 2$.
#
# **Protocol differences** (ours against the official notebook):
#
# 1. *Initial weights.* The official notebook draws $W^0$, $a^0$ and the teacher directions
#    $\theta_1 \perp \theta_2$ **once** and reuses them for every seed and every $n$; only the data
#    are redrawn. We draw $W^0$, $a^0$ afresh for every seed, and take $\theta_k = e_k$ (equal in
#    distribution, since $W^0$ is isotropic). Consequence: the official standard deviation
#    excludes the initialisation-to-initialisation spread, and the official mean carries one
#    initialisation's fluctuation that its standard error does not cover.
# 2. *Test-set centring.* The official notebook estimates the mean $A$ and linear part $B$ of the
#    labels on the *test set* and adds $A_{\rm test} + x\cdot B_{\rm test}$ to the test predictions;
#    we use the training-batch estimates $A + x\cdot B$ for the test predictions too (what a
#    predictor can use). The ridge is fitted on the training-centred labels in both.
# 3. *Batch sizes.* Identical ($\lfloor d^\kappa\rfloor$, as `np.logspace(..., dtype=int)`).
# 4. *Random numbers.* The official notebook uses numpy's unseeded global generator; we use
#    spawned, seeded `Generator`s.
# 5. *Extras.* We add the random-features baseline (ridge on $W^0$, same data and $\lambda$) and
#    the linear predictor $A + x\cdot B$.
#
# **Quick mode** runs the same code at $d = 64$, $p = 128$, 3 seeds, $2\cdot10^4$ test points,
# where no official numbers exist; the claim there is that one step at $n = d^2$ beats the linear
# predictor by a wide margin. `THEORY_FULL=1` runs the paper's sizes (about 20 min on one core)
# and adds claim C9b: our mean is within 3 standard errors of the official number at every
# $\kappa$, with the standard error of the difference
# $\sqrt{s_{\rm ours}^2/10 + s_{\rm off}^2/10}$ (both standard deviations with `ddof = 0`, as the
# official notebook prints them). Our full-size runs: see `docs/02_giant_step.md` (which
# $\kappa$ were run, and the numbers).

# %%
# NBVAL_IGNORE_OUTPUT
proto = {}
proto_rngs = section_rngs["proto"].spawn(PROTO_SEEDS)
workspace = gs.Workspace()               # the batch's memory, kept from one run to the next
for kappa in PROTO_KAPPAS:
    n = int(PROTO_D**kappa)              # floor, as np.logspace(..., dtype=int) in [code]
    runs = [gs.single_step_protocol(PROTO_D, PROTO_P, n, r, n_test=PROTO_TEST,
                                    workspace=workspace)
            for r in proto_rngs]
    proto[kappa] = {key: np.array([getattr(r, key) for r in runs])
                    for key in ("one_step", "random_features", "linear")}
del workspace
print("done")

# %%
print(f"d = {PROTO_D}, p = {PROTO_P}, {PROTO_SEEDS} seeds; test MSE mean +- std")
print("kappa       n   one step          random features   linear")
for kappa, r in proto.items():
    n = int(PROTO_D**kappa)
    print(f"{kappa:5.2f} {n:7d}   " + "   ".join(f"{r[k].mean():.3f} +- {r[k].std():.3f}"
                                            for k in ("one_step", "random_features", "linear")))

# %%
fig, ax = plotting.figure("single")
ns = np.array([int(PROTO_D**k) for k in PROTO_KAPPAS])
for key, label, style in (("one_step", "one giant step + ridge", "o-"),
                          ("random_features", "random features + ridge", "s-"),
                          ("linear", "linear (mean + x.B)", "^--")):
    means = np.array([proto[k][key].mean() for k in PROTO_KAPPAS])
    stds = np.array([proto[k][key].std() for k in PROTO_KAPPAS])
    ax.errorbar(ns, means, yerr=stds, fmt=style, capsize=3, label=label)
ax.set_xscale("log")
ax.set_xticks(ns, [f"$d^{{{k:g}}}$ = {n}" for k, n in zip(PROTO_KAPPAS, ns)])
ax.tick_params(axis="x", which="minor", labelbottom=False)
ax.set_xlabel("batch size n")
ax.set_ylabel("test MSE")
ax.set_title(f"official single-step protocol, d = {PROTO_D}, p = {PROTO_P}")
ax.legend()
plotting.savefig(fig, ledger.notebook, "single_step_learning_curve")
plt.show()

# %%
# The official notebook's printed output [code] (lucpoisson/GiantStep, single_step.ipynb,
# commit 74e72d9): kappa -> (mean, std over 10 seeds) of the test error at d = 512, p = 1024.
OFFICIAL = {1.3: (0.3360002036384977, 0.0063229646780440935),
            1.65: (0.2067522390105553, 0.005893831748022804),
            2.0: (0.07741778601141551, 0.002084362460098963)}
one_step_d2 = proto[2.0]["one_step"].mean()
ledger.check("C9", "[ours] authors' protocol: at n = d^2 the one-step error is below 0.7 x the "
             "error of the linear predictor A + x.B", one_step_d2 / proto[2.0]["linear"].mean(),
             0.7, relation="le", kind="evidence",
             alternative="without feature learning (ridge on the initial random features) the "
             f"ratio is {proto[2.0]['random_features'].mean() / proto[2.0]['linear'].mean():.2f}",
             source="official single_step notebook [code]; paper abstract", digits=2)


def z_scores(key):
    """|ours - official| / standard error of the difference, for every kappa."""
    return {k: abs(proto[k][key].mean() - OFFICIAL[k][0])
            / np.sqrt(proto[k][key].std() ** 2 / PROTO_SEEDS + OFFICIAL[k][1] ** 2 / 10)
            for k in PROTO_KAPPAS}


if PROTO_D == 512 and PROTO_P == 1024:
    z_one, z_rf = z_scores("one_step"), z_scores("random_features")
    for k in PROTO_KAPPAS:
        print(f"kappa {k}: ours {proto[k]['one_step'].mean():.4f} +- "
              f"{proto[k]['one_step'].std():.4f}, official {OFFICIAL[k][0]:.4f} +- "
              f"{OFFICIAL[k][1]:.4f}: {z_one[k]:.1f} standard errors")
    ledger.check("C9b", "[ours] the official protocol's learning curve at d = 512, p = 1024, "
                 "n = d^{1.3, 1.65, 2}: max over kappa of |ours - official| / (standard error "
                 "of the difference) <= 3", max(z_one.values()), 3.0, relation="le",
                 kind="evidence",
                 alternative="random features in place of the stepped features: "
                 + ", ".join(f"{z_rf[k]:.0f}" for k in PROTO_KAPPAS) + " standard errors",
                 source="official single_step notebook [code], printed output", digits=2,
                 discrepancy="in our full-mode run (10 seeds, default seed) the n = d^2 point is "
                 "0.0732 +- 0.0029 against the official 0.0774 +- 0.0021, 3.8 standard errors "
                 "apart (n = d^1.3 and d^1.65 are within 2). The official notebook draws W0, a0 "
                 "and the teacher directions once for all its seeds (its spread omits that "
                 "variance) and centres the test labels with test-set estimates; which "
                 "difference accounts for the gap is not yet tested")
else:
    print(f"d = {PROTO_D}, p = {PROTO_P}: no official numbers at this size "
          "(the comparison C9b runs with THEORY_FULL=1)")

# %% [markdown]
# ## Try it yourself
#
# Change one value in the `parameters` cell (the first code cell), re-run the whole notebook and
# compare with the numbers below; they come from our own quick-mode runs with the default seed.
# Restore the value before trying the next change.
#
# * **More samples per step: `ALPHA = 4`.** The closed forms move to $\cos = 0.5/\sqrt{1.375} =
#   0.426$ (c = 1), spike alignments $\sqrt{4/5} = 0.894$ ($y = x_1$) and $\sqrt{4/6} = 0.816$
#   ($y = x_1 + x_1x_2$), and $0.632$ for the $c = 2$ control **[ours]**. Observed: the worst
#   deviations shrink (C1 0.0097, C2a 0.015), the spike is sharper ($\sigma_1/\sigma_2 \ge 12$)
#   and the staircase is stronger (C5b 0.349).
# * **Another odd activation: `ODD_ACTIVATION = "erf"`.** erf has $\mu_2 = 0$ like tanh, so the
#   step-2 push $\propto \mathbb E[\sigma'']$ vanishes **[ours]**. Observed: erf
#   keeps $e_2$ at the noise level ($\max_d \sqrt d\,\overline{|\cos|} = 0.89$, tanh 0.87) while it
#   learns $e_1$ (0.577 after one step).
# * **Smaller sizes: `DS` quick `[64, 128, 256]`** (CPU about 8 s instead of 25 s). The claims
#   are asymptotic in $d$, so finite-size effects grow. Observed: **C2a fails**
#   at 0.055 (tolerance 0.05): the spike of $y = x_1 + x_1x_2$ at $d = 64$ is aligned 0.652 with
#   $e_1$ against the predicted 0.707, and its $\sigma_1/\sigma_2$ is only 3.1, so the $x_1x_2$ noise
#   direction still competes with the spike. C3a passes only narrowly (0.144 against 0.15). This
#   is why the notebook reads every scaling at $d \in \{256, 512, 1024\}$.

# %% [markdown]
# ## Claims

# %%
# NBVAL_CHECK_OUTPUT
print(ledger.table())

# %%
ledger.publish()
ledger.assert_all()
