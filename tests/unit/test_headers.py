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


SHIFTS = """
#include <cstdio>
#include "ap_fixed.h"
#include "ap_int.h"
#include "nnet_function_stubs.h"
// every value of a few types through bit_shift, printed exactly
template <int s, class T> void all(int w, bool sign) {
    for (long long k = sign ? -(1LL << (w - 1)) : 0; k < (sign ? (1LL << (w - 1)) : (1LL << w)); k++) {
        T x;
        x.range() = k;
        std::printf("%.17g ", nnet::bit_shift<s>(x).to_double());
    }
    std::printf("\\n");
}
int main() {
    all<-2, ap_fixed<8, 3> >(8, true);
    all<3, ap_fixed<8, 3, AP_RND_CONV, AP_SAT> >(8, true);
    all<-5, ap_ufixed<7, 0> >(7, false);
    all<4, ap_int<6> >(6, true);
    all<-1, ap_uint<5> >(5, false);
    return 0;
}
"""


def _run_shifts(stubs_dir: Path, tmp_path: Path, tag: str) -> str:
    import hls4ml

    templates = Path(hls4ml.__file__).parent / "templates" / "vivado"
    src = tmp_path / f"{tag}.cpp"
    src.write_text(SHIFTS)
    exe = tmp_path / tag
    # the stubs folder first: its nnet_function_stubs.h wins over hls4ml's
    res = subprocess.run(["g++", "-std=c++14", "-O1", f"-I{stubs_dir}", f"-I{templates / 'nnet_utils'}",
                          f"-I{templates / 'ap_types'}", str(src), "-o", str(exe)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout


def test_fast_function_stubs_shift_exactly_as_hls4mls(tmp_path):
    """The bit_shift l1tag registers (r.V = x.V) gives the same value as hls4ml's (r.range() = x.range()) for
    every value of signed, unsigned, saturating and integer types, and nothing else in the file differs."""
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed")
    import hls4ml

    from l1tag.hls.register import BITS_COPY, RANGE_COPY, STUBS, fast_function_stubs

    fast = fast_function_stubs(tmp_path / "cache")
    original = Path(hls4ml.__file__).parent / "templates" / "vivado" / "nnet_utils" / STUBS
    assert fast.read_text().count(BITS_COPY) == 4
    assert fast.read_text().replace(BITS_COPY, RANGE_COPY) == original.read_text()
    ours = _run_shifts(fast.parent, tmp_path, "fast")
    theirs = _run_shifts(original.parent, tmp_path, "hls4ml")
    assert ours == theirs
    assert len(ours.split()) == 256 + 256 + 128 + 64 + 32


def test_from_bits_is_the_value_the_double_literal_gives(tmp_path):
    """l1tag::from_bits<T>(k) is T(k * 2^-F) for every k of signed and unsigned, rounding and saturating types
    (the firmware's constants: taps, biases, alpha, beta)."""
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed")
    import hls4ml

    program = """
#include <cmath>
#include <cstdio>
#include "l1tag_common.h"
template <class T> int check(int w, int f, bool sign) {
    int bad = 0;
    for (long long k = sign ? -(1LL << (w - 1)) : 0; k < (sign ? (1LL << (w - 1)) : (1LL << w)); k++)
        bad += l1tag::from_bits<T>(k) != T(std::ldexp((double)k, -f));
    return bad;
}
int main() {
    int bad = check<ap_fixed<8, 2, AP_RND_CONV, AP_SAT> >(8, 6, true) + check<ap_fixed<12, 3> >(12, 9, true)
            + check<ap_ufixed<10, 0> >(10, 10, false) + check<ap_fixed<6, 8> >(6, -2, true);
    std::printf("%d\\n", bad);
    return bad != 0;
}
"""
    ap_types = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
    src = tmp_path / "from_bits.cpp"
    src.write_text(program)
    exe = tmp_path / "from_bits"
    res = subprocess.run(["g++", "-std=c++14", "-O1", f"-I{TEMPLATES}", f"-I{ap_types}", str(src), "-o", str(exe)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert (out.returncode, out.stdout.strip()) == (0, "0")
