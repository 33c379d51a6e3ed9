"""Input fuzzing: every public function of `theory` meets malformed input with a clear error.

Each public function (in its module's ``__all__``) is called with every required argument,
positional or keyword-only, set to one malformed value drawn by hypothesis: NaN or inf arrays,
empty arrays, wrong ranks, negative or zero sizes, huge values, strings, None. The only
exceptions allowed are ``ValueError`` and ``TypeError``, and the message must name one of the
function's parameters.
"""

import importlib
import inspect
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Modules whose public functions take commands, paths or notebooks rather than data: they are
# tested through the command line (tests/test_cli.py, tests/test_site.py, ...).
NOT_DATA = {"theory.cli", "theory.book", "theory.__main__", "theory.provenance",
            "theory.progress", "theory.sweep", "theory.slides", "theory.records"}


def discover_modules() -> list[str]:
    """Every module of the package (a new paper module is fuzzed without registering it)."""
    import pkgutil

    import theory
    names = [m.name for m in pkgutil.walk_packages(theory.__path__, "theory.")]
    return sorted(n for n in names if n not in NOT_DATA and not n.split(".")[-1].startswith("_"))


MODULES = discover_modules()

# Functions whose arguments are not data (a matplotlib figure, a CLI namespace, ...) or that
# accept anything by design.
EXEMPT = {"theory.config.pick", "theory.claims.format_value", "theory.plotting.use_style",
          "theory.claims.load_claims", "theory.claims.write_json_atomic",
          "theory.claims.render_table"}


def public_functions():
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            qualified = f"{name}.{attr}"
            if not inspect.isfunction(obj) or qualified in EXEMPT:
                continue
            if obj.__module__ != name:       # re-exported from elsewhere: tested there
                continue
            params = inspect.signature(obj).parameters.values()
            required = [p.name for p in params
                        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                                p.POSITIONAL_OR_KEYWORD)]
            # Required keyword-only arguments get the malformed value too: otherwise the call
            # fails with "missing argument" and nothing of the validation is exercised.
            keyword = [p.name for p in params
                       if p.default is p.empty and p.kind == p.KEYWORD_ONLY]
            if required or keyword:
                found.append(pytest.param(obj, required, keyword, id=qualified))
    return found


malformed = st.sampled_from([
    np.array([[np.nan, 1.0], [1.0, 1.0]]),
    np.array([[np.inf, 0.0], [0.0, 1.0]]),
    np.full((2, 3, 0), 1.0),
    np.zeros((0,)),
    np.ones((2, 2, 2, 2, 2)),
    -3,
    0,
    -1.5,
    float("nan"),
    float("inf"),
    1e308,
    "not a number",
    None,
])


@pytest.mark.parametrize("func, positional, keyword", public_functions())
@settings(max_examples=13, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=malformed)
def test_malformed_input_raises_a_named_error(func, positional, keyword, value):
    names = positional + keyword
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = func(*[value] * len(positional), **dict.fromkeys(keyword, value))
        except (ValueError, TypeError) as exc:
            message = str(exc)
            assert any(re.search(rf"\b{re.escape(n)}\b", message) for n in names), (
                f"{func.__name__}: the message {message!r} names none of {names}")
            return
    # Accepted: then the value must be a legitimate input and the output finite.
    for out in (result if isinstance(result, tuple) else (result,)):
        if isinstance(out, np.ndarray) and out.dtype.kind == "f":
            assert np.all(np.isfinite(out)), f"{func.__name__} returned non-finite output"


def test_discovery_finds_every_paper_module():
    for name in ("theory.linalg", "theory.claims", "theory.deep_linear", "theory.two_layer",
                 "theory.relu_flow", "theory.critical_sets", "theory.effective_rank",
                 "theory.symbolic.common"):
        assert name in MODULES
