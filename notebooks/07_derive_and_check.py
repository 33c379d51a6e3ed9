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
# # Check your own derivation: gradient flows, conserved quantities and closed forms
#
# The papers of this collection reason about **gradient flow**, $\dot\theta = -\nabla L(\theta)$,
# and then make claims about **gradient descent**. Two kinds of statements recur: a quantity
# $Q(\theta)$ is *conserved* by the flow, and the flow has a *closed-form solution*
# $\theta(t) = S(t, p)$ on some family of starts. Both are easy to get wrong by a sign or a
# factor of two. This notebook shows a tool, `theory.symbolic.check`, that checks such a
# derivation twice, by two computations that do not share code:
#
# 1. **sympy**: from the loss written in sympy it derives the flow and reduces
#    $\dot Q = \nabla Q \cdot (-\nabla L)$, or the ODE residual $\dot S + \nabla L(S)$, to zero —
#    or prints the term that does not vanish;
# 2. **scipy**: it integrates the flow with `solve_ivp` (DOP853, `rtol = 1e-10`,
#    `atol = 1e-12`) and runs gradient descent at steps $h, h/2, h/4$ from the same start. A
#    conserved $Q$ must stay put along the integrated flow (to the solver's tolerance) and drift by
#    $O(h)$ along GD (one GD step changes $Q$ by $O(h^2)$ when $\dot Q = 0$); a closed form must
#    match the integrated flow at random starts.
#
# | function | does |
# |---|---|
# | `derive_flow(loss, params, constants)` | $-\nabla L$ for scalar symbols, symbol matrices or `MatrixSymbol`s; LaTeX; numpy |
# | `integrate_flow`, `gradient_descent` | `solve_ivp` (DOP853) and the explicit Euler scheme $\theta_{k+1} = \theta_k - h\nabla L$ |
# | `check_gd_order(flow, y0, T, h)` | gap $\max_i|\theta^{GD}_i(T) - \theta_i(T)|$ at $h, h/2, h/4$; observed order (1 for GD) |
# | `check_conserved(flow, Q, y0, T, h)` | symbolic $\dot Q$; drift along the flow and along GD |
# | `check_closed_form(flow, S, t, ranges, rng, T=...)` | symbolic ODE residual; agreement with the flow at random starts |
#
# Every check returns a report with a verdict, its numbers and the failing term;
# `report.record(ledger, ...)` enters it in the claims table as an **evidence** claim. Three
# examples come from the collection (notebook 01's deep linear network, the overview's scalar
# model, the two-layer networks of notebooks 02–04), then two deliberately wrong derivations
# that the tool must reject. All statements here are **[ours]**: derivations we check, with
# the paper they come from named in each section.

# %% tags=["parameters"]
import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
from IPython.display import Math, display

from theory import config, plotting
from theory.claims import Ledger
from theory.symbolic import frobenius_sq, matrix_symbols
from theory.symbolic.check import (check_closed_form, check_conserved, check_gd_order,
                                   derive_flow, integrate_flow)

SEED = config.SEED
T_FLOW = 2.0          # time horizon of the conservation and order checks
H = 0.02              # largest GD step (then H/2, H/4)
N_STARTS = config.pick(quick=5, full=50)   # random starts of the closed-form checks
T_LOGISTIC = 6.0      # the logistic jump of the closed-form check happens before t = 6

# %%
rng = np.random.default_rng(SEED)
plotting.use_style()
ledger = Ledger("Check your own derivation (sympy flow vs scipy integration)", seed=SEED,
                notebook="07_derive_and_check")

# %% [markdown]
# ## 1. Balancedness of a deep linear network (notebook 01, Yaras et al., arXiv:2306.01154, §2)
#
# **Claim [ours].** For $L(W_1,\dots,W_N) = \tfrac12\|W_N\cdots W_1 - \Phi\|_F^2$ the gradient
# flow conserves $D_l = W_{l+1}^\top W_{l+1} - W_l W_l^\top$ for every $l$ (the balancedness of
# Arora, Cohen & Hazan 2018 and Du, Hu & Lee 2018; notebook 01 uses it for the orthogonal
# initialisation). Here: $N = 3$ layers of $2\times2$ matrices of explicit symbols, a fixed target
# $\Phi$ with exact entries, a Gaussian start of scale 0.5.
#
# **Derivation.** `derive_flow` differentiates the loss entrywise; the first layer's flow:

# %%
Ws = [matrix_symbols(f"w{l}", 2, 2) for l in (1, 2, 3)]
Phi = sp.Matrix([[1, sp.Rational(1, 2)], [0, sp.Rational(4, 5)]])
deep = derive_flow(frobenius_sq(Ws[2] * Ws[1] * Ws[0] - Phi) / 2, Ws)
display(Math(r"\dot W_1 = " + sp.latex(sp.Matrix(2, 2, list(deep.rhs[:4])).applyfunc(sp.factor))))
y0_deep = 0.5 * rng.standard_normal(deep.dimension)

# %% [markdown]
# **Check.** Both $D_1$ and $D_2$, symbolically and numerically from the same start.

# %%
balanced = [check_conserved(deep, Ws[l + 1].T * Ws[l + 1] - Ws[l] * Ws[l].T, y0_deep,
                            T_FLOW, H) for l in (0, 1)]
for l, report in enumerate(balanced, start=1):
    print(f"D_{l}:", report)

# %%
worst_flow_drift = max(r.flow_drift for r in balanced)
ledger.check("K1", "[ours] the deep linear flow (N = 3, 2x2) conserves D_1 and D_2: sympy rate "
             "is 0, drift along the integrated flow <= 1e-7, GD drift O(h) (fitted "
             "order >= 0.85)", all(r.holds for r in balanced), True, relation="true",
             kind="evidence", source="derived here; Arora et al. 2018, Du et al. 2018",
             alternative="the sign-flipped W2^T W2 + W1 W1^T (section 4) is not conserved: "
             "non-zero sympy rate and a drift of order 1 along the flow")

# %% [markdown]
# Gradient descent is the explicit Euler scheme of this flow, so its gap to the flow at a fixed
# time is $C(T)\,h + O(h^2)$: the observed order must be 1. This checks our numerics, not a
# paper, so it is recorded as a consistency claim.

# %%
order_deep = check_gd_order(deep, y0_deep, T_FLOW, H)
print(order_deep)
ledger.check("K2", "[ours] GD at h, h/2, h/4 approaches the integrated deep linear flow at "
             "order 1 (fitted log-log slope)", order_deep.order, 1.0, atol=0.1,
             kind="consistency", source="Euler's method is first order (Hairer et al., II.3)")

# %% [markdown]
# ## 2. The logistic law of the balanced scalar two-layer model (overview notebook)
#
# **Claim [ours].** For $L = \tfrac12(w_2 w_1 - \varphi)^2$ and a balanced start
# $w_1 = w_2 = w_0 > 0$, the flow is $w_1(t) = w_2(t) = \sqrt{u(t)}$ with the logistic
# $u(t) = \varphi / \big(1 + (\varphi/w_0^2 - 1)e^{-2\varphi t}\big)$ — the scalar shadow of
# notebook 01's deep linear dynamics (Saxe, McClelland & Ganguli 2014 for the matrix case).
# The closed form is checked on the *full* two-parameter flow, not on the scalar ODE it was
# derived from, at `N_STARTS` random $w_0 \sim U(0.05, 0.5)$ drawn from the notebook's seed.

# %%
w1, w2 = sp.symbols("w_1 w_2", real=True)
phi, w0 = sp.symbols("varphi w_0", positive=True)
t = sp.Symbol("t", nonnegative=True)
scalar = derive_flow((w2 * w1 - phi) ** 2 / 2, [w1, w2], {phi: 1.0})
display(Math(scalar.latex()))


def logistic(rate):
    """u(t) = phi / (1 + (phi / w0^2 - 1) exp(-rate phi t))."""
    return phi / (1 + (phi / w0**2 - 1) * sp.exp(-rate * phi * t))


u_right = logistic(2)
logistic_report = check_closed_form(scalar, {w1: sp.sqrt(u_right), w2: sp.sqrt(u_right)}, t,
                                    {w0: (0.05, 0.5)}, rng, T=T_LOGISTIC, n_starts=N_STARTS)
print(logistic_report)

# %%
_ = logistic_report.record(
    ledger, "K3", "[ours] w1 = w2 = sqrt(u), u logistic with rate 2 phi, solves the scalar "
    "two-layer flow: sympy ODE residual 0 and max error <= 1e-7 against solve_ivp at random "
    "balanced starts", source="derived here; overview notebook",
    alternative="the same law with rate phi (section 4) leaves a non-zero residual and an "
    "error of order 0.1")

# %% [markdown]
# ## 3. A two-layer ReLU network conserves each neuron's balance (notebooks 02–04)
#
# **Claim [ours].** For the two-layer networks of notebooks 02–04,
# $f(x) = \sum_k a_k\,\sigma(w_k\cdot x)$ with the square loss, the flow gives
# $\tfrac{d}{dt}\big(a_k^2 - \|w_k\|^2\big) = -2a_k\sum_i r_i\big(\sigma(z_{ik}) -
# z_{ik}\sigma'(z_{ik})\big)$ with $z_{ik} = w_k\cdot x_i$; for the positively homogeneous ReLU,
# $\sigma(z) = z\sigma'(z)$ and each neuron's $a_k^2 - \|w_k\|^2$ is conserved (Du, Hu & Lee
# 2018). For $\tanh$ — the activation of notebook 04 — it is not. Here: two neurons, three
# fixed inputs in $\mathbb R^2$, ReLU written as `Max(z, 0)` (sympy differentiates it to a
# Heaviside step; the tool uses $\max(0,z) = z\,H(z)$ to reduce $\dot Q$).
#
# A caveat on the numerics: the ReLU flow is only piecewise smooth. On some data the flow
# *slides* along a kink $w_k\cdot x_i = 0$, and an adaptive solver then takes ever smaller steps;
# `integrate_flow` stops after a budget of evaluations and raises a `RuntimeError` that says so
# (with mixed-sign inputs this happened for 3 of 20 random starts in our runs). Below, the
# inputs have positive coordinates and the start has $a_k \sim N(0,1)$ and $|N(0,1)|$ entries
# in $w_k$, so that every unit is active at $t = 0$ (a start where every unit is dead does not
# move, and its "conservation" would check nothing). Even so, a few percent of such starts
# stall (1 of the first 15 seeds in our runs): the cell below then redraws the start and prints
# how many it redrew. A stall says nothing about $Q$ (GD runs through it), only that the adaptive
# solver cannot integrate that trajectory. The symbolic check holds on every activation pattern
# at once.

# %%
W = matrix_symbols("w", 2, 2)
a = sp.Matrix(sp.symbols("a_1 a_2", real=True))
X = [(1, sp.Rational(1, 4)), (sp.Rational(1, 2), 1), (sp.Rational(1, 4), sp.Rational(1, 2))]
Y = [1, sp.Rational(1, 2), sp.Rational(3, 4)]


def two_layer_loss(activation):
    """(1 / 2n) sum_i (sum_k a_k activation(w_k . x_i) - y_i)^2 on the fixed data X, Y."""
    return sum((sum(a[k] * activation(W[k, 0] * x0 + W[k, 1] * x1) for k in range(2)) - yi) ** 2
               for (x0, x1), yi in zip(X, Y)) / (2 * len(X))


neuron_balance = sp.Matrix([a[k] ** 2 - W[k, 0] ** 2 - W[k, 1] ** 2 for k in range(2)])
relu_flow = derive_flow(two_layer_loss(lambda z: sp.Max(z, 0)), [a, W])
stalled = []
for _attempt in range(5):
    y0_relu = rng.standard_normal(6)
    y0_relu[2:] = np.abs(y0_relu[2:])    # w_k with positive entries: every unit starts active
    try:
        relu_report = check_conserved(relu_flow, neuron_balance, y0_relu, T_FLOW, H)
        break
    except RuntimeError as err:          # solve_ivp stalled on a sliding mode: redraw, say so
        stalled.append(str(err).split(" < ")[0].split("stalled at ")[-1])
print(f"random starts on which solve_ivp stalled and were redrawn: {len(stalled)} {stalled}")
tanh_report = check_conserved(derive_flow(two_layer_loss(sp.tanh), [a, W]),
                              neuron_balance, y0_relu, T_FLOW, H)
print(relu_report)
print()
print(tanh_report.summary().split("\n  failing term")[0])

# %%
_ = relu_report.record(
    ledger, "K4", "[ours] the two-layer ReLU flow conserves a_k^2 - ||w_k||^2 for each neuron "
    "(sympy rate 0, flow drift <= 1e-7, GD drift O(h))", source="derived here; Du et al. 2018",
    alternative="the same network with tanh (notebook 04's activation) drifts: measured "
    f"{tanh_report.flow_drift:.2f} along the flow")
_ = tanh_report.record(
    ledger, "K5", "[ours] with tanh the same quantity is NOT conserved (rejected by sympy and "
    "by the numerics: drift along the flow above 1e-7, GD drift not falling with h)", expect=False,
    source="derived here: tanh(z) != z tanh'(z)",
    alternative="a tool that accepted every candidate would pass it as conserved")

# %% [markdown]
# ## 4. Two deliberately wrong derivations
#
# **Wrong sign.** $W_2^\top W_2 + W_1 W_1^\top$ instead of $W_2^\top W_2 - W_1 W_1^\top$, in the
# deep linear network of section 1. **Off by a factor.** The logistic law with rate $\varphi$
# instead of $2\varphi$ — the slip of forgetting that $u = w^2$ doubles the rate of $w$.
# The tool must reject both, and say which term fails.

# %%
wrong_sign = check_conserved(deep, Ws[1].T * Ws[1] + Ws[0] * Ws[0].T, y0_deep, T_FLOW, H)
print(wrong_sign)

# %% [markdown]
# The failing term is a degree-6 polynomial in the twelve weights; read in matrix form it is
# $	frac{d}{dt}(W_2^\top W_2 + W_1W_1^\top) = \dot D_1 + 2\,\tfrac{d}{dt}(W_1W_1^\top)
# = -2\,(G_1W_1^\top + W_1G_1^\top)$ with $G_1 = \partial L/\partial W_1$: the flipped sign
# doubles the term that balancedness cancels. Sympy confirms the reading:

# %%
G1 = -sp.Matrix(2, 2, list(deep.rhs[:4]))                       # dL/dW_1
reading = (wrong_sign.rate + 2 * (G1 * Ws[0].T + Ws[0] * G1.T)).applyfunc(sp.expand)
print("failing term == -2 (G_1 W_1^T + W_1 G_1^T):", all(e == 0 for e in reading))

# %%
u_wrong = logistic(1)
wrong_rate = check_closed_form(scalar, {w1: sp.sqrt(u_wrong), w2: sp.sqrt(u_wrong)}, t,
                               {w0: (0.05, 0.5)}, rng, T=T_LOGISTIC, n_starts=N_STARTS)
print(wrong_rate)
display(Math(r"\dot w_1 - \mathrm{rhs} = " + sp.latex(sp.factor(wrong_rate.failing[0][1]))))

# %%
_ = wrong_sign.record(
    ledger, "K6", "[ours] the sign-flipped balancedness W2^T W2 + W1 W1^T is rejected: "
    "non-zero sympy rate and a drift of order 1 along the flow", expect=False,
    source="derived here", alternative="a tool that accepted every candidate (or tested "
    "only GD, where every quantity drifts) would not separate it from D_1")
_ = wrong_rate.record(
    ledger, "K7", "[ours] the logistic law with rate phi instead of 2 phi is rejected: non-zero "
    "ODE residual and max error > 1e-7 against solve_ivp", expect=False,
    source="derived here", alternative="a check of u(0) = w0^2 alone would accept it")
ledger.check("K8", "[ours] the wrong closed form misses the integrated flow by more than 0.01 "
             "(max over random starts and times in [0, 6])", wrong_rate.max_error, 0.01,
             relation="ge", kind="evidence", source="derived here",
             alternative="a factor that did not change the solution would give an error near "
             f"the solver tolerance, as the right law does ({logistic_report.max_error:.0e})")

# %% [markdown]
# ## Figure
# Left: the drift of $Q$ along GD against the step $h$ (log axes). Conserved quantities (deep
# linear $D_1, D_2$, ReLU neuron balance) fall on slope-one lines; the wrong-sign candidate and the
# tanh neuron balance do not fall at all. Right: the logistic product $w_1 w_2$ from `solve_ivp`
# and the two candidate closed forms.

# %%
fig, (ax_left, ax_right) = plotting.figure("wide", ncols=2)
for label, report, style in [("deep linear $D_1$", balanced[0], "o-"),
                             ("deep linear $D_2$", balanced[1], "s-"),
                             ("ReLU $a_k^2 - \\|w_k\\|^2$", relu_report, "^-"),
                             ("tanh $a_k^2 - \\|w_k\\|^2$ (rejected)", tanh_report, "v--"),
                             ("wrong sign $W_2^T W_2 + W_1 W_1^T$ (rejected)", wrong_sign, "x--")]:
    ax_left.loglog(report.steps, report.gd_drifts, style, label=label)
steps = np.array(balanced[0].steps)
ax_left.loglog(steps, balanced[0].gd_drifts[-1] * steps / steps[-1], "k:", label="slope 1")
ax_left.set(xlabel="GD step h", ylabel=f"max drift of Q up to t = {T_FLOW:g}",
            title="Drift along gradient descent")
ax_left.legend(fontsize=7)
w0_plot = 0.1
sol = integrate_flow(scalar, [w0_plot, w0_plot], T_LOGISTIC).sol
grid = np.linspace(0, T_LOGISTIC, 300)
product = sol(grid)[0] * sol(grid)[1]
ax_right.plot(grid, product, color="k", lw=3, alpha=0.4, label="solve_ivp")
for rate, style in [(2, "-"), (1, "--")]:
    u_num = sp.lambdify(t, logistic(rate).subs({phi: 1, w0: w0_plot}), modules="numpy")
    ax_right.plot(grid, u_num(grid), style, label=f"closed form, rate {rate} phi")
ax_right.set(xlabel="time t", ylabel="product w1 w2", title=f"Logistic law, w0 = {w0_plot:g}")
ax_right.legend()
plotting.savefig(fig, ledger.notebook, "drift_and_logistic")
plt.show()

# %% [markdown]
# ## Claims

# %%
# NBVAL_CHECK_OUTPUT
print(ledger.table())

# %%
ledger.publish()
ledger.assert_all()
