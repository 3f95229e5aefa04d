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
    l1tag::partitioned_attention<C::qkv_t, ap_fixed<8, 4>, C>(x, x, x, y, p, p);
    l1tag::linformer_attention<C::qkv_t, ap_fixed<8, 4>, C>(x, x, x, y, e, e);
    l1tag::full_attention<C::qkv_t, ap_fixed<8, 4>, F>(x, x, x, y);
    return y[0] == 0 ? 0 : 1;  // all-zero weights and inputs give zero output (the default tables are zero)
}
""",
    "l1tag_dynamic_tanh.h": """
#include "l1tag_dynamic_tanh.h"
struct C : l1tag::dynamic_tanh_config {
    static table_t table(unsigned i) { return (int)i < (int)table_size / 2 ? table_t(-0.5) : table_t(0.5); }
};
int main() {
    ap_fixed<10, 4> x[C::n_in] = {};
    C::table_t y[C::n_in];
    l1tag::dynamic_tanh<ap_fixed<10, 4>, C::table_t, C>(x, y);
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
