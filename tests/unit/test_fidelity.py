"""The csim.* fidelity thresholds are real checks: below any of them the run exits 4 after writing everything."""

from __future__ import annotations

import pytest

from l1tag.build import check_fidelity, enforce_checks, fidelity_checks
from l1tag.config import config_from_dict
from l1tag.errors import BudgetViolation, FidelityError

GOOD = {"bit_exact_fraction": 1.0, "argmax_agreement_vs_quantized": 1.0, "argmax_agreement_vs_float": 0.92,
        "accuracy_drop_float_points": 0.8}


def _cfg(**csim):
    return config_from_dict({"name": "f", "csim": csim})


def test_defaults_pass_a_faithful_firmware_and_list_every_check():
    checks = fidelity_checks(_cfg(), GOOD)
    assert [c["threshold"] for c in checks] == ["csim.min_bit_exact_fraction", "csim.min_argmax_agreement_quantized",
                                                "csim.min_argmax_agreement_float", "csim.max_accuracy_drop_float"]
    assert all(c["pass"] for c in checks)
    check_fidelity(_cfg(), GOOD)
    check_fidelity(_cfg(), {})  # no C-simulation yet: nothing to check


@pytest.mark.parametrize("key, value, threshold, limit, word", [
    ("argmax_agreement_vs_quantized", 0.94, "min_argmax_agreement_quantized", 0.95, "below"),
    ("argmax_agreement_vs_float", 0.90, "min_argmax_agreement_float", 0.999, "below"),
    ("accuracy_drop_float_points", 1.5, "max_accuracy_drop_float", 1.0, "above"),
])
def test_each_threshold_exits_4_naming_its_key(key, value, threshold, limit, word):
    with pytest.raises(FidelityError, match=rf"{key} = .*, {word} csim\.{threshold} = {limit}") as exc:
        check_fidelity(_cfg(**{threshold: limit}), {**GOOD, key: value})
    assert exc.value.exit_code == 4
    failed = [c for c in fidelity_checks(_cfg(**{threshold: limit}), {**GOOD, key: value}) if not c["pass"]]
    assert [c["threshold"] for c in failed] == [f"csim.{threshold}"]


def test_a_csim_that_is_not_bit_exact_is_reported_as_a_bug():
    with pytest.raises(FidelityError, match=r"bit_exact_fraction = 0\.9990, below csim\.min_bit_exact_fraction = 1\.0"
                                            r".*first mismatch: \{'jet': 3\}.*a bug in l1tag"):
        check_fidelity(_cfg(), {**GOOD, "bit_exact_fraction": 0.999, "first_mismatch": {"jet": 3}})


def test_a_broken_budget_is_reported_first():
    report = {"budget": {"name": "b", "pass": False, "checks": [{"name": "latency_ns", "limit": 1.0, "value": 2.0,
                                                                 "pass": False, "margin": -1.0, "source": "estimate"}]},
              "csim": {**GOOD, "argmax_agreement_vs_quantized": 0.5}}
    with pytest.raises(BudgetViolation):
        enforce_checks(_cfg(), report)
    report["budget"] = {"name": "b", "pass": True, "checks": []}
    with pytest.raises(FidelityError):
        enforce_checks(_cfg(), report)
