"""GIMPLE census: what a generated hls4ml project's C++ really computes, read from g++'s optimized GIMPLE.

No vendor tool is involved.  The census answers two questions about the design code reachable from the
top function:

* **divisions** -- every ``/`` or ``%`` (native C++ or an ap_fixed/ap_int ``operator/``, ``operator%``)
  whose divisor is not a power-of-two constant: a variable divisor, or a constant such as 3 or 196608.
  Vitis HLS builds each as a ~35-cycle divider core, so the project must have none
  (:func:`check_no_dividers`);
* **products** -- every multiplication of two ap_fixed / ap_int values, counted by the operand types
  (width, integer bits, signedness of each) as hardware instances per pipelined-loop iteration.

Method
------
1. The project's ``firmware/`` folder is copied to a temporary directory and the C++ of every header and
   source that carries ``#pragma HLS`` is rewritten so that g++ unrolls what HLS unrolls (see
   :func:`rewrite_unroll`): a ``_Pragma("GCC unroll N")`` is put directly before each ``for`` keyword,
   on the same line, so line numbers stay those of the original file:

   * a loop whose body holds ``#pragma HLS PIPELINE`` -> ``GCC unroll 1``: the pipelined loop stays
     rolled, so what its body contains is what one iteration holds, i.e. the hardware instances;
   * a loop inside a pipelined region (the body of a pipelined loop, or a function whose body holds a
     function-level ``#pragma HLS PIPELINE``) -> fully unrolled, as HLS unrolls every loop nested in a
     pipeline whether or not it carries a pragma.  A pragma inside an ``if``/``else`` block applies to
     the enclosing loop or function (hls4ml's ``if (CONFIG_T::io_type == io_parallel) { #pragma HLS
     PIPELINE }`` idiom);
   * elsewhere, a loop with ``#pragma HLS UNROLL`` -> fully unrolled (``factor=N`` -> ``GCC unroll N``,
     ``off=true`` -> 1); a loop with no pragma -> ``GCC unroll 1`` (HLS keeps it rolled; without the
     pragma g++ would unroll some small loops on its own).

2. Only the top source ``firmware/<ProjectName>.cpp`` is compiled, as hls4ml's ``build_lib.sh`` does
   (``-I firmware -I firmware/ap_types``), with ``-O2 -fno-inline`` and
   ``-fdump-tree-optimized-asmname-lineno``.  ``-fno-inline`` keeps every ap_types operator a call, so
   a product is one call whose (mangled) name carries both operand types, e.g.
   ``ap_fixed_base<10, 3, true, AP_TRN, AP_WRAP, 0>::operator*<8, 2, true, AP_TRN, AP_WRAP, 0>``, while
   -O2 still unrolls the loops, propagates the constants and removes dead code.  The interprocedural
   passes that would blur the call graph are switched off: identical-code folding (it may redirect a
   call to another instantiation with other widths), IPA constant propagation and IPA-SRA (their clones
   drop literal arguments, such as the divisor of ``x / 8``).  ``-asmname`` prints callees by their
   unique assembler names, so overloads with equal template arguments are not confused; ``-lineno``
   gives each statement its source line.

3. The dump is parsed into functions (``;; Function <name> (<asm name>, funcdef_no=...)`` to the closing
   ``}``), each with its call sites, native ``*``, ``/``, ``%`` statements and the types of its locals.
   The call graph is walked from the top function: ``instances[top] = 1`` and every call site in ``f``
   adds ``instances[f]`` to its callee.  Only reachable functions count, so ap_types internals that are
   instantiated but never called cannot produce false divisions.  The walk does not descend into
   ap_types (names starting ``ap_``, ``af_``, ``operator``, ``ssdm_``, ``_AP_``), the C++ library
   (``std::``, ``__gnu_cxx::``, ``__*``), ``hls::`` or hls4ml's C-simulation helpers (weight loading,
   printing): an ap ``operator*`` call is one product, an ap ``operator/`` or ``operator%`` call is one
   division whose divisor is its second argument (power-of-two literals are exempt).  Free operators
   such as ``ap_fixed * ap_int`` or ``ap * int-variable``, and ``ap_fixed``'s ``operator*=``, are
   resolved to the member product they call, so both operand types are known (``ap_int``'s
   ``operator*=`` multiplies itself and counts as it is).  A product with a C literal
   (``x * 3``) is not a product of two ap values: it is counted in ``constant_products``.  Native
   ``*`` statements (index arithmetic such as ``g * 8``) go to ``native_multiplications``.

What "per iteration" means: a pipelined loop is kept rolled, so a product inside it counts once per
unrolled copy in its body; that is the number of multipliers HLS instantiates for the loop (at II=1).
Code outside any pipelined loop (a dataflow top, a rolled loop) is counted once per call site.

What the census does not see:

* HLS's own binding and sharing: with II > 1 (or ``ALLOCATION`` pragmas) HLS may share one multiplier
  among several products; the census counts operations, not bound cores.  It also cannot tell whether
  a product lands on a DSP or on LUTs, nor see the constant-coefficient products of hls4ml's
  distributed-arithmetic dense layers (they are written as adds and shifts, so they are not products).
* Constant folding that HLS does but ``g++ -fno-inline`` does not: a product or division whose operand
  is a compile-time constant only after inlining (an ``ap_fixed`` constant argument, a weight read from
  a ``static const`` array) is counted as a variable one, and a loop whose trip count is a function
  argument stays rolled.  A multiplication or division by an ap constant object (``x * ap_uint<20>(k)``)
  is therefore a product or a divider here; write it as a shift, a C literal or a table.
* Loops in a function called from a pipelined loop are unrolled only if they carry their own
  ``#pragma HLS UNROLL`` (or the function a function-level ``PIPELINE``): HLS unrolls them all, the
  text rewrite only sees the lexical nesting.  Braces inside ``#if`` branches and loops written inside
  macros are not seen either.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from l1tag.errors import ConversionError

__all__ = ["Census", "Operand", "census", "check_no_dividers", "format_census", "rewrite_unroll"]

FULL_UNROLL = 65534  # GCC's largest unroll factor: "unroll completely"
CXXFLAGS = ("-O2", "-fno-inline", "-std=c++11", "-fno-ipa-icf", "-fno-ipa-cp", "-fno-ipa-sra",
            "-fno-tree-vectorize", "-w")
SOURCE_SUFFIXES = (".h", ".hh", ".hpp", ".cpp", ".cc", ".cxx", ".inc", ".tpp", ".ipp")


@dataclass(frozen=True, order=True)
class Operand:
    """One operand type of a product: ap_fixed<width, integer, signed>; an ap_int<W> has integer == width."""

    width: int
    integer: int
    signed: bool

    def __str__(self) -> str:
        if self.width == self.integer:
            return f"{'ap_int' if self.signed else 'ap_uint'}<{self.width}>"
        return f"{'ap_fixed' if self.signed else 'ap_ufixed'}<{self.width},{self.integer}>"


@dataclass
class Census:
    """What the design code computes per pipelined-loop iteration (see the module docstring).

    products: (a, b) with a <= b -> instances; divisions: one line each (function [file:line]: GIMPLE
    statement -- divisor, instances); constant_products: (ap operand, C literal) -> instances;
    functions: reachable design functions (the top included; ap_types and library functions are not);
    notes: calls through pointers and operators the census could not resolve; seconds: wall time.
    """

    products: dict[tuple[Operand, Operand], int] = field(default_factory=dict)
    divisions: list[str] = field(default_factory=list)
    native_multiplications: int = 0
    functions: int = 0
    constant_products: dict[tuple[Operand, str], int] = field(default_factory=dict)  # (ap operand, C literal)
    notes: list[str] = field(default_factory=list)  # indirect calls, unresolved operators
    seconds: float = 0.0

    def product_count(self) -> int:
        return sum(self.products.values())

    def divider_count(self) -> int:
        """Divider instances (each line's ``xN``)."""
        return sum(int(m.group(1)) if (m := re.search(r"x(\d+)$", d)) else 1 for d in self.divisions)

    def by_width(self) -> dict[tuple[int, int], int]:
        out: Counter = Counter()
        for (a, b), n in self.products.items():
            out[tuple(sorted((a.width, b.width)))] += n
        return dict(sorted(out.items()))


# ------------------------------------------------------------------------------------------------------
# 1. the unroll rewrite

_PRAGMA = re.compile(r"^[ \t]*#[ \t]*pragma[ \t]+HLS[ \t]+(\w+)([^\n]*)$", re.IGNORECASE | re.MULTILINE)
_FOR = re.compile(r"\bfor\s*\(")


def _mask(text: str) -> str:
    """The text with comments, string/char literals and preprocessor lines blanked (newlines and length kept)."""
    out = list(text)
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if c == "\n":
            line_start = True
            i += 1
            continue
        if line_start and c in " \t":
            i += 1
            continue
        if line_start and c == "#":  # a directive, with its continuation lines
            j = i
            while j < n and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n and text[j + 1] == "\n":
                    j += 2
                    continue
                j += 1
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
            continue
        line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # C++14 digit separator
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out[i + 1:j - 1] = " " * max(0, j - 1 - (i + 1))
            i = j
        else:
            i += 1
    return "".join(out)


def _match(masked: str, i: int, open_c: str, close_c: str) -> int:
    """Index of the bracket closing the one at i (or len(masked) if unbalanced)."""
    depth = 0
    for j in range(i, len(masked)):
        if masked[j] == open_c:
            depth += 1
        elif masked[j] == close_c:
            depth -= 1
            if depth == 0:
                return j
    return len(masked)


def _conditional(masked: str, open_brace: int) -> bool:
    """Whether the block opening at open_brace is the body of an if or an else."""
    j = open_brace - 1
    while j >= 0 and masked[j].isspace():
        j -= 1
    if j >= 0 and masked[j] == ")":
        depth = 0
        while j >= 0:
            if masked[j] == ")":
                depth += 1
            elif masked[j] == "(":
                depth -= 1
                if depth == 0:
                    break
            j -= 1
        j -= 1
        while j >= 0 and masked[j].isspace():
            j -= 1
    end = j + 1
    while j >= 0 and (masked[j].isalnum() or masked[j] == "_"):
        j -= 1
    return masked[j + 1:end] in ("if", "else")


def _unroll_directive(args: str) -> int:
    """The GCC unroll factor that an HLS UNROLL pragma's arguments ask for."""
    if re.search(r"\boff\s*=\s*true\b", args, re.IGNORECASE):
        return 1
    m = re.search(r"\bfactor\s*=\s*(\d+)", args, re.IGNORECASE)
    return int(m.group(1)) if m else FULL_UNROLL


def rewrite_unroll(text: str) -> str:
    """Put ``_Pragma("GCC unroll N")`` before each ``for`` so g++ unrolls what HLS unrolls (module docstring)."""
    if not re.search(r"#\s*pragma\s+HLS", text, re.IGNORECASE):
        return text
    masked = _mask(text)
    # brace blocks: open index -> close index, and every open brace in order for "innermost block" lookups
    blocks: dict[int, int] = {}
    stack: list[int] = []
    for i, c in enumerate(masked):
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            blocks[stack.pop()] = i
    opens = sorted(blocks)

    def innermost(pos: int) -> int | None:
        best = None
        for o in opens:
            if o > pos:
                break
            if blocks[o] > pos:
                best = o
        return best

    # for loops: keyword index -> body block open index (None for a single-statement body)
    loops: dict[int, int | None] = {}
    for m in _FOR.finditer(masked):
        close = _match(masked, m.end() - 1, "(", ")")
        j = close + 1
        while j < len(masked) and masked[j].isspace():
            j += 1
        loops[m.start()] = j if j < len(masked) and masked[j] == "{" else None
    body_of = {b: f for f, b in loops.items() if b is not None}

    pipelined: set[int] = set()   # for keywords whose body holds PIPELINE
    unroll: dict[int, int] = {}   # for keyword -> factor asked by its own UNROLL pragma
    regions: list[tuple[int, int]] = []  # pipelined regions (brace blocks)
    for m in _PRAGMA.finditer(text):
        name, args = m.group(1).upper(), m.group(2)
        block = innermost(m.start())
        # hls4ml's idiom "if (CONFIG_T::io_type == io_parallel) { #pragma HLS PIPELINE }": a pragma in an
        # if/else block applies to the enclosing loop or function (the condition is a template constant)
        while block is not None and _conditional(masked, block):
            block = innermost(block - 1) if block > 0 else None
        if block is None:
            continue
        if name == "PIPELINE" and not re.search(r"\boff\b", args, re.IGNORECASE):
            regions.append((block, blocks[block]))
            if block in body_of:
                pipelined.add(body_of[block])
        elif name == "UNROLL" and block in body_of:
            unroll[body_of[block]] = _unroll_directive(args)

    factors: dict[int, int] = {}
    for f in loops:
        if any(o < f < c for o, c in regions):  # nested in a pipeline (even one with its own PIPELINE)
            factors[f] = FULL_UNROLL
        elif f in pipelined:
            factors[f] = 1
        else:
            factors[f] = unroll.get(f, 1)
    out = text
    for f in sorted(factors, reverse=True):
        out = f'{out[:f]}_Pragma("GCC unroll {factors[f]}") {out[f:]}'
    return out


# ------------------------------------------------------------------------------------------------------
# 2. compile


def _project_name(project_dir: Path) -> str:
    cfg = project_dir / "hls4ml_config.yml"
    if cfg.is_file():
        m = re.search(r"^ProjectName:\s*['\"]?([\w.-]+)", cfg.read_text(), re.MULTILINE)
        if m:
            return m.group(1)
    return "myproject"


def _copy_firmware(src: Path, dst: Path) -> None:
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if path.is_dir():
            continue
        if path.suffix.lower() not in SOURCE_SUFFIXES:
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text(errors="replace")
        target.write_text(rewrite_unroll(text))


def _compile(firmware: Path, top_source: Path, work: Path, compiler: str) -> str:
    exe = shutil.which(compiler)
    if exe is None:
        raise ConversionError(f"census: the C++ compiler '{compiler}' is not on PATH")
    dump_dir = work / "dump"
    dump_dir.mkdir()
    cmd = [exe, *CXXFLAGS, f"-I{firmware}", f"-I{firmware / 'ap_types'}", "-DWEIGHTS_DIR=\"weights\"",
           "-c", str(top_source), "-o", str(dump_dir / "census.o"),
           "-fdump-tree-optimized-asmname-lineno", "-dumpdir", f"{dump_dir}/"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        err = next((line for line in proc.stderr.splitlines() if "error" in line), proc.stderr.strip()[:300])
        raise ConversionError(f"census: {compiler} failed on {top_source.name}: {err.strip()}")
    dumps = sorted(dump_dir.glob("*.optimized"))
    if len(dumps) != 1:
        raise ConversionError(f"census: {compiler} wrote no optimized GIMPLE dump (got {len(dumps)} files)")
    return dumps[0].read_text(errors="replace")


# ------------------------------------------------------------------------------------------------------
# 3. parse the dump

_HEADER = re.compile(r"^;; Function (?P<name>.*?) \((?P<asm>[^\s,()]+), funcdef_no=")
_LOC = re.compile(r"^\[(?P<file>[^\]]*?):(?P<line>\d+):\d+\] ")
_CALL = re.compile(r"^(?:(?P<lhs>.+?) = )?(?P<callee>[A-Za-z_.$][\w.$]*) \((?P<args>.*)\);(?P<annot>(?: \[[^\]]*\])*)$")
_ARG_LOC = re.compile(r"\[[^\]\s]*:\d+:\d+\] ")
_BINOP = re.compile(r"^(?P<lhs>\S+) = (?P<a>\S+) (?P<op>\*|w\*|/|%|[/%]\[\w+\]) (?P<b>\S+);$")
_DECL = re.compile(r"^  (?P<type>[^<\[#].*?) (?P<var>[\w.$]+);$")
_INT = re.compile(r"^-?\d+[uUlLbB]*$")
_FLOAT = re.compile(r"^-?\d+\.\d*(?:e[+-]?\d+)?$")
_CLONE = re.compile(r"(?:\.(?:constprop|isra|part|cold|lto_priv|localalias)(?:\.\d+)?)+$")


@dataclass
class _Call:
    callee: str  # assembler name as written (may carry a clone suffix)
    args: list[str]
    text: str
    loc: str


@dataclass
class _Function:
    name: str
    asm: str
    calls: list[_Call] = field(default_factory=list)
    binops: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)  # lhs, a, op, b, text, loc
    decls: dict[str, str] = field(default_factory=dict)


def _split_args(args: str) -> list[str]:
    out, depth, cur = [], 0, []
    for c in args:
        if c in "(<[":
            depth += 1
        elif c in ")>]":
            depth -= 1
        if c == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    if cur or out:
        out.append("".join(cur).strip())
    return out


def _parse(dump: str, firmware: Path) -> dict[str, _Function]:
    functions: dict[str, _Function] = {}
    fn: _Function | None = None
    in_decls = False  # between the body's "{" and the first blank line: the local declarations
    prefix = str(firmware) + "/"
    for line in dump.splitlines():
        if fn is None:
            m = _HEADER.match(line)
            if m:
                fn = _Function(m.group("name"), m.group("asm"))
                functions[fn.asm] = fn
            continue
        if line == "}":
            fn = None
            continue
        if line == "{":
            in_decls = True
            continue
        if in_decls:
            if not line.strip():
                in_decls = False
                continue
            d = _DECL.match(line)
            if d:
                fn.decls.setdefault(d.group("var"), d.group("type"))
            continue
        stmt = line.strip()
        loc = ""
        m = _LOC.match(stmt)
        if m:
            f = m.group("file")
            loc = f"{f[len(prefix):] if f.startswith(prefix) else Path(f).name}:{m.group('line')}"
            stmt = stmt[m.end():]
        stmt = _ARG_LOC.sub("", stmt)  # -lineno also marks some operands with their location
        if not stmt or stmt[0] in "#<" or stmt.startswith(("goto ", "if ", "else", "switch ", "return", "//")):
            continue
        c = _CALL.match(stmt)
        if c:
            fn.calls.append(_Call(c.group("callee"), _split_args(c.group("args")), stmt, loc))
            continue
        b = _BINOP.match(stmt)
        if b:
            fn.binops.append((b.group("lhs"), b.group("a"), b.group("op"), b.group("b"), stmt, loc))
    return functions


# ------------------------------------------------------------------------------------------------------
# 4. classify and walk

_AP_PREFIXES = ("ap_", "af_", "operator", "ssdm_", "_AP_", "_ap_")
_LIBRARY_PREFIXES = ("std::", "__gnu_cxx::", "__", "_GLOBAL__", "hls::")
_SIM_HELPERS = re.compile(r"^nnet::(load_\w*weights_from_txt|convert_data|save_output_array|save_layer_output|"
                          r"copy_data\w*|print_result|fill_zero|read_file_\w+|change_type|hls_stream_debug|"
                          r"trace_\w+|print_\w+)\b")
_FIXED_MEMBER_MUL = re.compile(r"^ap_fixed_base<(\d+), (-?\d+), (true|false), [^<>]*>::operator\*"
                               r"<(\d+), (-?\d+), (true|false), [^<>]*>$")
_INT_FREE_MUL = re.compile(r"^operator\*<(\d+), (true|false), (\d+), (true|false)>$")
_INT_MEMBER_MUL_ASSIGN = re.compile(r"^ap_int_base<(\d+), (true|false)>::operator\*=<(\d+), (true|false)>$")
_MUL = re.compile(r"(?:^|::)operator\*=?(?:<|$)")
_DIV = re.compile(r"(?:^|::)operator([/%])=?(?:<|$)")


def _is_ap(name: str) -> bool:
    return name.startswith(_AP_PREFIXES)


def _is_library(name: str) -> bool:
    return name.startswith(_LIBRARY_PREFIXES) or bool(_SIM_HELPERS.match(name))


def _template_operand(name: str) -> Operand | None:
    """The ap operand of a free operator from its template arguments: <W, I, S, ...> or <W, S>."""
    m = re.search(r"<(\d+), (-?\d+), (true|false)\b", name)
    if m:
        return Operand(int(m.group(1)), int(m.group(2)), m.group(3) == "true")
    m = re.search(r"<(\d+), (true|false)\b", name)
    if m:
        return Operand(int(m.group(1)), int(m.group(1)), m.group(2) == "true")
    return None


def _is_literal(arg: str) -> bool:
    return bool(_INT.match(arg) or _FLOAT.match(arg))


def _int_value(arg: str) -> int | None:
    return int(re.sub(r"[uUlLbB]+$", "", arg)) if _INT.match(arg) else None


def _power_of_two(arg: str) -> bool:
    v = _int_value(arg)
    if v is None:
        m = _FLOAT.match(arg)
        if not m:
            return False
        f = abs(float(arg))
        return f != 0 and float.hex(f).startswith("0x1.0000000000000p")
    v = abs(v)
    return v > 0 and v & (v - 1) == 0


def _pair(a: Operand, b: Operand) -> tuple[Operand, Operand]:
    return (a, b) if a <= b else (b, a)


class _Walker:
    def __init__(self, functions: dict[str, _Function]):
        self.functions = functions
        self._resolved: dict[str, Counter] = {}

    def lookup(self, asm: str) -> _Function | None:
        return self.functions.get(asm) or self.functions.get(_CLONE.sub("", asm))

    def name(self, asm: str) -> str:
        fn = self.lookup(asm)
        return fn.name if fn else asm

    def terminal_product(self, name: str) -> tuple[Operand, Operand] | None:
        m = _FIXED_MEMBER_MUL.match(name)
        if m:
            g = m.groups()
            return _pair(Operand(int(g[0]), int(g[1]), g[2] == "true"), Operand(int(g[3]), int(g[4]), g[5] == "true"))
        m = _INT_FREE_MUL.match(name) or _INT_MEMBER_MUL_ASSIGN.match(name)
        if m:
            g = m.groups()
            return _pair(Operand(int(g[0]), int(g[0]), g[1] == "true"), Operand(int(g[2]), int(g[2]), g[3] == "true"))
        return None

    def resolve_products(self, asm: str, depth: int = 0) -> Counter:
        """The member products that a wrapper operator* (free operator, operator*=) performs."""
        if asm in self._resolved:
            return self._resolved[asm]
        out: Counter = Counter()
        fn = self.lookup(asm)
        if fn is not None and depth < 6:
            for call in fn.calls:
                callee = self.name(call.callee)
                pair = self.terminal_product(callee)
                if pair is not None:
                    out[pair] += 1
                elif _MUL.search(callee) and _is_ap(callee):
                    out.update(self.resolve_products(call.callee, depth + 1))
        self._resolved[asm] = out
        return out

    def instances(self, top: str) -> dict[str, int]:
        """Design functions reachable from top (assembler names) -> instances, by a topological walk."""
        order: list[str] = []
        state: dict[str, int] = {}

        def design_callees(fn: _Function):
            for call in fn.calls:
                target = self.lookup(call.callee)
                if target is not None and not _is_ap(target.name) and not _is_library(target.name):
                    yield call, target

        def visit(asm: str) -> None:
            state[asm] = 1
            for _, target in design_callees(self.functions[asm]):
                s = state.get(target.asm)
                if s == 1:
                    raise ConversionError(f"census: recursive call into {target.name}")
                if s is None:
                    visit(target.asm)
            state[asm] = 2
            order.append(asm)

        visit(top)
        inst: Counter = Counter({top: 1})
        for asm in reversed(order):  # callers before callees
            for _, target in design_callees(self.functions[asm]):
                inst[target.asm] += inst[asm]
        return dict(inst)


def _find_top(functions: dict[str, _Function], top: str) -> str:
    hits = [f.asm for f in functions.values()
            if (f.name == top or f.name.endswith("::" + top)) and not _CLONE.search(f.asm)]
    if not hits:
        raise ConversionError(f"census: the top function '{top}' is not in g++'s dump")
    if len(hits) > 1:
        raise ConversionError(f"census: {len(hits)} functions are named '{top}'")
    return hits[0]


def _var_type(fn: _Function, name: str) -> str:
    """The declared type of a GIMPLE operand: an SSA name _5, a user variable's SSA version x_5(D), or x."""
    var = re.sub(r"\(D\)$", "", name)
    base = var if re.fullmatch(r"_\d+", var) else re.sub(r"_\d+$", "", var)
    return fn.decls.get(var) or fn.decls.get(base) or ""


def _divisor_text(fn: _Function, arg: str) -> str:
    if _is_literal(arg):
        return f"constant {arg}"
    if arg.startswith("&"):
        return f"ap value {arg[1:]}"
    kind = _var_type(fn, arg)
    if kind and "struct" in kind:
        return f"ap value {arg} ({kind})"
    return f"variable {arg}" + (f" ({kind})" if kind else "")


def _analyse(functions: dict[str, _Function], top: str) -> Census:
    walker = _Walker(functions)
    top_asm = _find_top(functions, top)
    inst = walker.instances(top_asm)
    products: Counter = Counter()
    constants: Counter = Counter()
    divisions: list[str] = []
    notes: list[str] = []
    native_mults = 0
    for asm, n in inst.items():
        fn = functions[asm]
        where = fn.name
        for call in fn.calls:
            target = walker.lookup(call.callee)
            if target is None:
                if re.fullmatch(r"_\d+|[A-Za-z]\w*_\d+", call.callee):  # an SSA name: a call through a pointer
                    notes.append(f"{where}: indirect call {call.text}")
                continue
            callee = target.name
            if not _is_ap(callee):
                continue
            pair = walker.terminal_product(callee)
            if pair is not None:
                products[pair] += n
                continue
            if _MUL.search(callee):
                literal = next((a for a in call.args if _is_literal(a)), None)
                operand = _template_operand(callee)
                if literal is not None and operand is not None:
                    constants[(operand, literal)] += n
                    continue
                resolved = walker.resolve_products(call.callee)
                if not resolved:
                    notes.append(f"{where}: unresolved product {callee}")
                for p, k in resolved.items():
                    products[p] += n * k
                continue
            d = _DIV.search(callee)
            if d:
                divisor = call.args[1] if len(call.args) > 1 else "?"
                if _power_of_two(divisor):
                    continue
                text = call.text.replace(call.callee, callee)
                divisions.append(f"{where}{f' [{call.loc}]' if call.loc else ''}: {text}  "
                                 f"-- divisor {_divisor_text(fn, divisor)}, x{n}")
        for lhs, a, op, b, text, loc in fn.binops:
            if op in ("*", "w*"):
                native_mults += n
                continue
            if _power_of_two(b):
                continue
            kind = _var_type(fn, lhs)
            divisions.append(f"{where}{f' [{loc}]' if loc else ''}: {text}  "
                             f"-- divisor {_divisor_text(fn, b)}{f', result {kind}' if kind else ''}, x{n}")
    return Census(products=dict(sorted(products.items())), divisions=divisions,
                  native_multiplications=native_mults, functions=len(inst),
                  constant_products=dict(sorted(constants.items(), key=lambda kv: (kv[0][0], kv[0][1]))),
                  notes=notes)


# ------------------------------------------------------------------------------------------------------
# API


def census(project_dir: Path, top: str | None = None, compiler: str = "g++") -> Census:
    """The GIMPLE census of the hls4ml project in project_dir (its ``firmware/`` and ``hls4ml_config.yml``).

    top: the top function (default: ``ProjectName`` of hls4ml_config.yml, else ``myproject``); compiler: a g++
    (GCC >= 10: ``-fdump-tree-optimized-asmname-lineno``).  Raises ConversionError (one line) if it fails.
    """
    t0 = time.perf_counter()
    project_dir = Path(project_dir)
    firmware = project_dir / "firmware"
    if not firmware.is_dir():
        raise ConversionError(f"census: {project_dir} has no firmware/ folder")
    name = _project_name(project_dir)
    top = top or name
    with tempfile.TemporaryDirectory(prefix="l1tag-census-") as tmp:
        work = Path(tmp)
        fw = work / "firmware"
        _copy_firmware(firmware, fw)
        source = fw / f"{name}.cpp"
        if not source.is_file():
            raise ConversionError(f"census: {firmware / (name + '.cpp')} does not exist")
        dump = _compile(fw, source, work, compiler)
        result = _analyse(_parse(dump, fw), top)
    result.seconds = time.perf_counter() - t0
    return result


def check_no_dividers(c: Census) -> None:
    """Raise ConversionError naming the first divider of the census, if it has any."""
    if c.divisions:
        more = f" (and {len(c.divisions) - 1} more)" if len(c.divisions) > 1 else ""
        raise ConversionError(f"the firmware has a divider (a ~35-cycle core in HLS): {c.divisions[0]}{more}")


def format_census(c: Census) -> str:
    """A plain-text table of the census."""
    lines = [(f"{c.functions} reachable design functions, {c.product_count()} ap products per iteration, "
              f"{c.native_multiplications} native multiplications, {len(c.divisions)} divisions "
              f"({c.seconds:.1f} s)")]
    if c.products:
        lines.append(f"  {'operand a':<22} {'operand b':<22} {'instances':>9}")
        for (a, b), n in c.products.items():
            lines.append(f"  {a!s:<22} {b!s:<22} {n:>9}")
    if c.constant_products:
        lines.append("  products with a C constant:")
        for (a, lit), n in c.constant_products.items():
            lines.append(f"  {a!s:<22} {lit:<22} {n:>9}")
    for d in c.divisions:
        lines.append(f"  DIVISION {d}")
    for note in c.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)
