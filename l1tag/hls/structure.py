"""Does the generated C++ ask for the schedule the estimate assumes?  Read from the written project, as an
HLS engineer reads it before synthesis (no vendor tool; ../shared/reference/hls-schedule-review.md).

``check_project`` returns one line per violation of the rules the estimator's schedule rests on:

1. **rewind**: every pipelined particle loop of l1tag's code (the fused particle loops in parameters.h and
   the ``*_GROUPS`` loops of l1tag's kernels) says ``PIPELINE II=1 rewind``: without it a process must
   drain before its next call, and its interval is its latency + 1, not its trip count (UG1399).
2. **No INLINE callee directly under a DATAFLOW pragma**: each call in a DATAFLOW region (the top
   function, the attention kernels) is a function that is not ``#pragma HLS INLINE`` -- an inlined callee
   turns the region into loose statements (HLS 214-114) and its processes run back to back.
3. **ap_ctrl_chain** on a DATAFLOW top: with ``ap_ctrl_hs`` successive calls do not overlap (UG1448 200-786).
4. **No unbuffered bypass**: a channel of the top region that skips k processes has a ``STREAM type=pipo``
   depth of at least k + 2 (l1tag/hls/dataflow.py).
5. **Bindings decided**: l1tag's variable products go through ``l1tag::product<impl>`` (BIND_OP / RESOURCE)
   and every l1tag table ROM carries its BIND_STORAGE (or RESOURCE) pragma.

Divisions are the census's (``l1tag/hls/census.py``): it reads what g++ compiles, not the text.
"""

from __future__ import annotations

import re
from pathlib import Path

from l1tag.hls.dataflow import Process, bypasses

_PIPELINE = re.compile(r"#pragma HLS PIPELINE\b(.*)$", re.I)
_CALL = re.compile(r"^\s*([A-Za-z_][\w:]*)\s*(?:<[^;]*?>)?\s*\(([^;]*)\)\s*;")
_STREAM = re.compile(r"#pragma HLS STREAM variable=(\w+)\s+type=pipo\s+depth=(\d+)", re.I)


def _function_bodies(text: str, pattern: str) -> list[tuple[str, str]]:
    """(signature, body) of each function definition whose signature matches ``pattern`` (brace matched)."""
    out = []
    for m in re.finditer(pattern, text):
        start = text.find("{", m.end() - 1)
        if start < 0 or ";" in text[m.end() - 1:start]:
            continue  # a declaration
        depth, i = 0, start
        while i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        out.append((text[m.start():start], text[start + 1:i]))
    return out


def _loop_pipelines(text: str) -> list[tuple[str, str]]:
    """(label, pragma options) of every PIPELINE pragma that is the first line of a for-loop body."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        m = _PIPELINE.search(line.strip())
        if not m:
            continue
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0 and lines[j].strip().startswith("for ") and lines[j].rstrip().endswith("{"):
            labelled = j > 0 and lines[j - 1].strip().endswith(":")
            label = lines[j - 1].strip().rstrip(":") if labelled else f"line {j + 1}"
            out.append((label, m.group(1).strip()))
    return out


def _first_pragma(body: str) -> str:
    for line in body.splitlines():
        s = line.strip()
        if s.startswith("#pragma"):
            return s
        if s and not s.startswith("//"):
            return ""
    return ""


def _inline(body: str) -> bool:
    """Whether a function body starts by asking to be inlined (``INLINE`` without ``off``)."""
    p = _first_pragma(body).upper()
    return p.startswith("#PRAGMA HLS INLINE") and "OFF" not in p


def _definitions(firmware: Path, name: str) -> list[tuple[str, str]]:
    """The definitions of a called function, searched in the project's headers: ``struct::run`` as the
    struct's run(), ``ns::f`` as f (array-argument forms only: the io_parallel ones)."""
    texts = [p.read_text(errors="replace") for p in sorted(firmware.rglob("*.h"))]
    if name.endswith("::run"):
        struct = name.split("::")[-2]
        found = []
        for text in texts:
            at = text.find(f"struct {struct} ")
            if at >= 0:
                found += _function_bodies(text[at:at + 200000], r"static void run\(")[:1]
        return found
    short = name.split("::")[-1]
    found = []
    for text in texts:
        found += [(sig, body) for sig, body in _function_bodies(text, rf"\bvoid {re.escape(short)}\s*\(")
                  if "[" in sig and "hls::stream" not in sig]
    return found


def _dataflow_regions(firmware: Path, top: str) -> list[tuple[str, str]]:
    """(name, body) of every function holding ``#pragma HLS DATAFLOW``: the top and l1tag's kernels."""
    regions = []
    top_text = (firmware / f"{top}.cpp").read_text()
    for sig, body in _function_bodies(top_text, rf"\bvoid {re.escape(top)}\s*\("):
        if "#pragma HLS DATAFLOW" in body:
            regions.append((top, body))
    for header in sorted((firmware / "nnet_utils").glob("l1tag_*.h")):
        for sig, body in _function_bodies(header.read_text(), r"\nvoid (\w+)\s*\("):
            if "#pragma HLS DATAFLOW" in body:
                regions.append((sig.split("(")[0].split()[-1], body))
    return regions


def _calls(body: str) -> list[tuple[str, list[str]]]:
    out = []
    for line in body.splitlines():
        m = _CALL.match(line)
        if m and not line.strip().startswith(("#", "//", "return")):
            out.append((m.group(1), [a.strip() for a in m.group(2).split(",") if a.strip()]))
    return out


def check_project(project_dir: Path, top: str = "myproject") -> list[str]:
    """One line per violation (module docstring); [] when the C++ asks for the schedule the estimate assumes."""
    firmware = Path(project_dir) / "firmware"
    problems = []
    l1tag_code = [firmware / "parameters.h"] + sorted((firmware / "nnet_utils").glob("l1tag_*.h"))
    # 1. rewind on every pipelined particle loop of l1tag's code
    for path in l1tag_code:
        for label, options in _loop_pipelines(path.read_text()):
            if "rewind" not in options.lower().split():
                problems.append(f"{path.name}: loop {label} is pipelined without rewind")
    # 2-4. the DATAFLOW regions
    for region, body in _dataflow_regions(firmware, top):
        calls = [c for c in _calls(body) if not c[0].startswith(("nnet::load_weights", "nnet::save"))]
        for name, _ in calls:
            for sig, callee in _definitions(firmware, name):
                if _inline(callee):
                    problems.append(f"{region}: DATAFLOW calls {name}, which is INLINE (its statements would be "
                                    f"loose code in the region)")
                    break
        if region != top:
            continue
        if not re.search(r"#pragma HLS INTERFACE ap_ctrl_chain port=return", body):
            problems.append(f"{top}: a DATAFLOW top without ap_ctrl_chain (successive jets do not overlap)")
        # channels: a variable's first call writes it, later calls read it (the ports are no channels)
        m = re.search(r"INTERFACE ap_vld port=([\w,]+)", body)
        ports = set(m.group(1).split(",")) if m else set()
        written: set[str] = set()
        procs = []
        for i, (name, args) in enumerate(calls):
            names = [a for a in args if re.fullmatch(r"\w+", a) and a not in ports]
            procs.append(Process(f"{name}#{i}", tuple(a for a in names if a in written),
                                 tuple(a for a in names if a not in written)))
            written |= set(names)
        depth = {v: int(d) for v, d in _STREAM.findall(body)}
        # Vivado HLS has no type=pipo: l1tag/hls/dataflow.py writes a comment instead (a documented limit)
        vivado_noted = set(re.findall(r"// l1tag: (\w+) bypasses \d+ process\(es\); Vivado HLS keeps 2 buffers", body))
        for b in bypasses(procs):
            if b.variable in vivado_noted:
                continue
            if depth.get(b.variable, 2) < b.depth:
                problems.append(f"{top}: {b.variable} bypasses {b.skipped} process(es) from {b.producer.split('#')[0]} "
                                f"to {b.consumer.split('#')[0]} with {depth.get(b.variable, 2)} buffers "
                                f"(needs STREAM type=pipo depth={b.depth})")
    # 5. bindings
    common = (firmware / "nnet_utils" / "l1tag_common.h")
    attention = firmware / "nnet_utils" / "l1tag_attention.h"
    if common.exists():
        text = common.read_text()
        for impl in ("fabric", "dsp"):
            if f"BIND_OP variable=p op=mul impl={impl}" not in text:
                problems.append(f"l1tag_common.h: no BIND_OP impl={impl} for l1tag::product")
    if attention.exists():
        text = attention.read_text()
        if len(re.findall(r"product<CONFIG_T::product_impl>::of\(", text)) < 5:
            problems.append("l1tag_attention.h: a variable product does not go through l1tag::product<impl>")
    product = firmware / "nnet_utils" / "l1tag_product.h"
    if product.exists() and "product<CONFIG_T::product_impl>::of(" not in product.read_text():
        problems.append("l1tag_product.h: the element product does not go through l1tag::product<impl>")
    params = (firmware / "parameters.h").read_text()
    for m in re.finditer(r"static const [^;]*? rom\[\d+\] = \{[^}]*\};\s*\n\s*(#pragma[^\n]*)?", params):
        pragma = m.group(1) or ""
        if "BIND_STORAGE" not in pragma and "core=ROM" not in pragma:
            problems.append("parameters.h: a table ROM without BIND_STORAGE")
    return problems
