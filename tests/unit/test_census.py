"""The GIMPLE census (l1tag/hls/census.py) on small hand-made hls4ml-like projects, with exact counts."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from l1tag.errors import ConversionError
from l1tag.hls.census import Operand, census, check_no_dividers, rewrite_unroll

A = Operand(10, 3, True)   # ap_fixed<10,3>
W = Operand(8, 2, True)    # ap_fixed<8,2>
X = Operand(12, 4, True)   # ap_fixed<12,4>
U = Operand(6, 0, False)   # ap_ufixed<6,0>

HEADER = """#include "ap_fixed.h"
#include "ap_int.h"
typedef ap_fixed<10, 3> a_t;
typedef ap_fixed<8, 2> w_t;
typedef ap_fixed<12, 4> x_t;
typedef ap_ufixed<6, 0> u_t;
typedef ap_fixed<24, 8> acc_t;
"""

# 4 products per iteration of a pipelined loop of 8 iterations: 4 multipliers, not 32 and not 1
PIPELINED = HEADER + """
void myproject(const a_t x[32], const w_t w[4], acc_t y[8]) {
GROUPS:
    for (unsigned g = 0; g < 8; g++) {
        #pragma HLS PIPELINE II=1
        acc_t acc = 0;
    TAPS: for (unsigned i = 0; i < 4; i++) {
            #pragma HLS UNROLL
            acc += x[g * 4 + i] * w[i];
        }
        y[g] = acc;
    }
}
"""

# a helper with 2 products, called from an unrolled loop of 3 (not in a pipeline): 6 products
HELPER = HEADER + """
acc_t helper(const x_t x[2], const u_t u[2]) {
    return x[0] * u[0] + x[1] * u[1];
}

void myproject(const x_t x[6], const u_t u[6], acc_t y[3]) {
    for (unsigned k = 0; k < 3; k++) {
        #pragma HLS UNROLL
        y[k] = helper(&x[2 * k], &u[2 * k]);
    }
}
"""

DIVISIONS = {  # kernel body -> whether it has a divider
    "ap_by_3": ("y[0] = x[0] / 3;", True),
    "native_by_3": ("r[0] = q[0] / 3;", True),
    "native_mod_7": ("r[0] = q[0] % 7;", True),
    "native_by_196608": ("r[0] = q[0] / 196608;", True),
    "ap_by_variable_ap": ("y[0] = x[0] / x[1];", True),
    "ap_by_8": ("y[0] = x[0] / 8;", False),
    "native_by_8": ("r[0] = q[0] / 8; r[1] = q[1] % 16;", False),
}


def _ap_types() -> Path:
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("hls4ml is not installed")
    path = Path(spec.submodule_search_locations[0]) / "templates" / "vivado" / "ap_types"
    if not path.is_dir():
        pytest.skip(f"hls4ml has no ap_types at {path}")
    return path


@pytest.fixture(scope="module")
def ap_types() -> Path:
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed")
    return _ap_types()


def project(root: Path, ap_types: Path, source: str, name: str = "myproject") -> Path:
    """A minimal hls4ml-shaped project: firmware/<name>.cpp, firmware/ap_types and hls4ml_config.yml."""
    firmware = root / "firmware"
    shutil.copytree(ap_types, firmware / "ap_types")
    (firmware / f"{name}.cpp").write_text(source.replace("void myproject(", f"void {name}("))
    (root / "hls4ml_config.yml").write_text(f"Backend: Vitis\nProjectName: {name}\n")
    return root


# ---------------------------------------------------------------------------------------------- products

def test_unrolled_products_inside_pipelined_loop(tmp_path, ap_types):
    c = census(project(tmp_path, ap_types, PIPELINED))
    assert c.products == {(W, A): 4}
    assert c.product_count() == 4
    assert c.by_width() == {(8, 10): 4}
    assert c.divisions == []
    assert c.functions == 1
    assert c.constant_products == {}


def test_helper_called_from_unrolled_loop(tmp_path, ap_types):
    c = census(project(tmp_path, ap_types, HELPER))
    assert c.products == {(U, X): 6}
    assert c.by_width() == {(6, 12): 6}
    assert c.functions == 2  # myproject and helper


def test_mutation_without_unroll_pragma_changes_the_count(tmp_path, ap_types):
    """The rewrite matters: without '#pragma HLS UNROLL' the loop stays rolled (as in HLS): one call, 2 products."""
    mutant = HELPER.replace("#pragma HLS UNROLL", "")
    assert mutant != HELPER
    c = census(project(tmp_path, ap_types, mutant))
    assert c.products == {(U, X): 2}


def test_loops_in_a_pipeline_are_unrolled_without_a_pragma(tmp_path, ap_types):
    """HLS unrolls every loop nested in a pipelined loop, so removing its UNROLL keeps 4 multipliers."""
    c = census(project(tmp_path, ap_types, PIPELINED.replace("#pragma HLS UNROLL", "")))
    assert c.products == {(W, A): 4}


def test_without_pipeline_pragma_the_outer_loop_stays_rolled(tmp_path, ap_types):
    c = census(project(tmp_path, ap_types, PIPELINED.replace("#pragma HLS PIPELINE II=1", "")))
    assert c.products == {(W, A): 4}  # per iteration of the (now unpipelined, rolled) outer loop


def test_constant_and_mixed_products(tmp_path, ap_types):
    source = HEADER + """
void myproject(const a_t x[2], ap_int<8> k, ap_uint<5> m, int v, acc_t y[4]) {
    y[0] = x[0] * 3;      // a C literal: not a product of two ap values
    y[1] = x[1] * m;      // ap_fixed * ap_uint: resolved to ap_fixed_base<10,3> * ap_fixed_base<5,5,false>
    y[2] = k * m;         // ap_int * ap_uint
    y[3] = x[0] * v;      // ap_fixed * an int variable: a 32-bit product
}
"""
    c = census(project(tmp_path, ap_types, source))
    assert c.products == {
        (Operand(5, 5, False), A): 1,
        (Operand(5, 5, False), Operand(8, 8, True)): 1,
        (A, Operand(32, 32, True)): 1,
    }
    assert c.constant_products == {(A, "3"): 1}


def test_compound_assignments(tmp_path, ap_types):
    source = HEADER + """
void myproject(x_t a, ap_fixed<8, 1> b, ap_int<6> k, ap_uint<4> u, x_t y[2], ap_int<6> z[2]) {
    x_t t = a;
    t *= b;          // ap_fixed_base::operator*= -> its member product
    y[0] = t;
    ap_int<6> kk = k;
    kk *= u;         // ap_int_base::operator*= multiplies itself
    z[0] = kk;
    x_t s = a;
    s /= b;          // a divider
    y[1] = s;
    ap_int<6> km = k;
    km %= 4;         // a power of two: no divider
    z[1] = km;
}
"""
    c = census(project(tmp_path, ap_types, source))
    assert c.products == {(Operand(4, 4, False), Operand(6, 6, True)): 1, (Operand(8, 1, True), X): 1}
    assert len(c.divisions) == 1 and "operator/=" in c.divisions[0]
    assert c.notes == []


# --------------------------------------------------------------------------------------------- divisions

@pytest.mark.parametrize("case", sorted(DIVISIONS))
def test_divisions(case, tmp_path, ap_types):
    body, divider = DIVISIONS[case]
    source = HEADER + f"""
void myproject(const acc_t x[2], const unsigned q[2], acc_t y[2], unsigned r[2]) {{
    {body}
}}
"""
    c = census(project(tmp_path, ap_types, source))
    if divider:
        assert len(c.divisions) == 1, c.divisions
        with pytest.raises(ConversionError, match=r"divider.*myproject\.cpp:10") as err:
            check_no_dividers(c)
        assert "\n" not in str(err.value)
    else:
        assert c.divisions == []
        check_no_dividers(c)


def test_division_names_divisor_and_instances(tmp_path, ap_types):
    source = HEADER + """
void myproject(const acc_t x[4], acc_t y[4]) {
    for (unsigned i = 0; i < 4; i++) {
        #pragma HLS UNROLL
        y[i] = x[i] / 3;
    }
}
"""
    c = census(project(tmp_path, ap_types, source))
    assert len(c.divisions) == 4  # four call sites after unrolling, each one divider
    assert all("operator/<24, 8, true" in d and "divisor constant 3" in d for d in c.divisions)


def test_unreachable_division_is_not_counted(tmp_path, ap_types):
    source = HEADER + """
unsigned unused(unsigned q) { return q / 3; }   // emitted (external linkage) but never called from the top
acc_t unused_ap(acc_t x) { return x / 3; }

void myproject(const unsigned q[1], unsigned r[1]) {
    r[0] = q[0] >> 2;
}
"""
    c = census(project(tmp_path, ap_types, source))
    assert c.divisions == []
    assert c.functions == 1


def test_top_from_hls4ml_config(tmp_path, ap_types):
    c = census(project(tmp_path, ap_types, PIPELINED, name="tagger"))
    assert c.products == {(W, A): 4}


# ----------------------------------------------------------------------------------------------- errors

def test_missing_compiler(tmp_path, ap_types):
    with pytest.raises(ConversionError, match="not on PATH") as err:
        census(project(tmp_path, ap_types, PIPELINED), compiler="no-such-compiler-l1tag")
    assert "\n" not in str(err.value)


def test_compile_error(tmp_path, ap_types):
    with pytest.raises(ConversionError, match="failed on myproject.cpp") as err:
        census(project(tmp_path, ap_types, PIPELINED.replace("acc_t acc = 0;", "acc_t acc = ;")))
    assert "\n" not in str(err.value)


def test_missing_firmware(tmp_path):
    with pytest.raises(ConversionError, match="no firmware"):
        census(tmp_path)


# ------------------------------------------------------------------------------ the unroll rewrite (text)

def _factors(text: str) -> list[str]:
    import re
    return re.findall(r'_Pragma\("GCC unroll (\d+)"\) for', rewrite_unroll(text))


def test_rewrite_keeps_lines_and_handles_labels():
    text = PIPELINED
    out = rewrite_unroll(text)
    assert out.count("\n") == text.count("\n")
    assert 'TAPS: _Pragma("GCC unroll 65534") for (unsigned i' in out
    assert '    _Pragma("GCC unroll 1") for (unsigned g' in out


def test_rewrite_rules():
    text = """
#pragma HLS nothing
void f() {
    // for (int z = 0; z < 2; z++) { a comment }
    const char *s = "for (;;) {";
    for (int a = 0; a < 2; a++) {
        #pragma HLS UNROLL factor=2
    }
    for (int b = 0; b < 2; b++) {
        #pragma HLS unroll off=true
    }
    for (int c = 0; c < 2; c++)
        for (int d = 0; d < 2; d++) { g(); }
}
void h() {
    if (CONFIG_T::io_type == io_parallel) {
        #pragma HLS PIPELINE
    }
    for (int e = 0; e < 2; e++) {
        for (int f = 0; f < 2; f++) {
            #pragma HLS PIPELINE
        }
    }
}
"""
    # a: factor 2; b: off; c, d: no pragma, rolled; e: in h's function-level pipeline (the if-idiom); f: also
    # (HLS unrolls every loop under a pipelined function, its own PIPELINE is ignored)
    assert _factors(text) == ["2", "1", "1", "1", "65534", "65534"]


def test_rewrite_leaves_files_without_hls_pragmas_alone():
    text = "int f() { int s = 0; for (int i = 0; i < 3; i++) s += i; return s; }\n"
    assert rewrite_unroll(text) == text
