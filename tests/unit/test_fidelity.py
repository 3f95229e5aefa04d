"""csim.min_argmax_agreement_quantized is a real check: below it the run exits 4 after writing everything."""

from __future__ import annotations

import pytest

from l1tag.build import check_fidelity, enforce_checks
from l1tag.config import config_from_dict
from l1tag.errors import BudgetViolation, FidelityError


def _cfg(threshold: float):
    return config_from_dict({"name": "f", "csim": {"min_argmax_agreement_quantized": threshold}})


def test_agreement_at_or_above_the_threshold_passes():
    check_fidelity(_cfg(0.95), {"argmax_agreement_vs_quantized": 0.95})
    check_fidelity(_cfg(0.95), {})  # no C-simulation yet: nothing to check


def test_agreement_below_the_threshold_exits_4_naming_the_key():
    with pytest.raises(FidelityError, match=r"0\.9400, below csim\.min_argmax_agreement_quantized = 0\.95") as exc:
        check_fidelity(_cfg(0.95), {"argmax_agreement_vs_quantized": 0.94})
    assert exc.value.exit_code == 4


def test_a_broken_budget_is_reported_first():
    report = {"budget": {"name": "b", "pass": False, "checks": [{"name": "latency_ns", "limit": 1.0, "value": 2.0,
                                                                 "pass": False, "margin": -1.0, "source": "estimate"}]},
              "csim": {"argmax_agreement_vs_quantized": 0.5}}
    with pytest.raises(BudgetViolation):
        enforce_checks(_cfg(0.95), report)
    report["budget"] = {"name": "b", "pass": True, "checks": []}
    with pytest.raises(FidelityError):
        enforce_checks(_cfg(0.95), report)
