"""Each firmware header compiles on its own with g++ and its default config (the header documents its contract)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "firmware_templates"

PROGRAMS = {
    "l1tag_attention.h": """
#include "l1tag_attention.h"
typedef l1tag::attention_config C;
struct F : C { static const unsigned m = 8; };  // full attention: m = n (2 groups of 4 particles)
int main() {
    C::qkv_t x[C::n * C::d] = {};
    ap_fixed<8, 4> y[C::n * C::d];
    C::weight_t p[C::heads * C::m * C::chunk] = {}, e[C::heads * C::m * C::n] = {};
    C::conv_weight_t k[C::conv_kh * C::conv_kw * C::heads] = {};
    C::conv_bias_t b[C::heads] = {};
    C::exp_t et[C::table_size] = {};
    C::inv_t it[C::table_size] = {};
    l1tag::partitioned_attention<C::qkv_t, ap_fixed<8, 4>, C>(x, x, x, y, p, p, k, b, et, it);
    l1tag::linformer_attention<C::qkv_t, ap_fixed<8, 4>, C>(x, x, x, y, e, e, et, it);
    l1tag::full_attention<C::qkv_t, ap_fixed<8, 4>, F>(x, x, x, y, et, it);
    return y[0] == 0 ? 0 : 1;  // all-zero weights and inputs give zero output
}
""",
    "l1tag_dynamic_tanh.h": """
#include "l1tag_dynamic_tanh.h"
typedef l1tag::dynamic_tanh_config C;
int main() {
    ap_fixed<10, 4> x[C::n_in] = {};
    C::table_t y[C::n_in], table[C::table_size];
    for (unsigned i = 0; i < C::table_size; i++) table[i] = (int)i < (int)C::table_size / 2 ? -0.5 : 0.5;
    C::param_t a[1] = {1}, b[1] = {0};
    l1tag::dynamic_tanh<ap_fixed<10, 4>, C::table_t, C>(x, y, a, b, table);
    return y[0] == 0.5 ? 0 : 1;  // tanh(0) sits in the bin just above zero
}
""",
}


@pytest.mark.parametrize("header", sorted(PROGRAMS))
def test_header_compiles_and_runs_alone(header, tmp_path):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not installed")
    import hls4ml

    ap_types = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
    src = tmp_path / "main.cpp"
    src.write_text(PROGRAMS[header])
    exe = tmp_path / "main"
    res = subprocess.run([gxx, "-std=c++14", "-O0", f"-I{TEMPLATES}", f"-I{ap_types}", str(src), "-o", str(exe)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert subprocess.run([str(exe)]).returncode == 0
