"""Names and paths that reach the HDL tools: module names, and directories named in Verilog strings.

A top-module name must be an identifier that is a keyword in neither Verilog-2005 (IEEE 1364) nor
SystemVerilog (IEEE 1800-2017, Annex B), since Icarus (``-g2012``), Verilator and yosys may parse the
RTL as either, and must not collide with the modules hwsim ships. A path that lands in a Verilog
string (``$readmemh`` of a ROM directory) or a tool script must be plain printable ASCII without
spaces, quotes or backslashes: Icarus reads a non-ASCII ``$readmemh`` path as missing and the
memories as ``x``, so such a path is refused up front instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hwsim._errors import FormatError

#: Verilog-2005 reserved words (IEEE 1364-2005, Annex B).
VERILOG_KEYWORDS = frozenset(
    """always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign
    default defparam design disable edge else end endcase endconfig endfunction endgenerate endmodule
    endprimitive endspecify endtable endtask event for force forever fork function generate genvar
    highz0 highz1 if ifnone incdir include initial inout input instance integer join large liblist
    library localparam macromodule medium module nand negedge nmos nor noshowcancelled not notif0
    notif1 or output parameter pmos posedge primitive pull0 pull1 pulldown pullup pulsestyle_ondetect
    pulsestyle_onevent rcmos real realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1
    scalared showcancelled signed small specify specparam strong0 strong1 supply0 supply1 table task
    time tran tranif0 tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire vectored wait wand
    weak0 weak1 while wire wor xnor xor""".split()
)
#: Keywords SystemVerilog adds (IEEE 1800-2017, Annex B).
SYSTEMVERILOG_KEYWORDS = frozenset(
    """accept_on alias always_comb always_ff always_latch assert assume before bind bins binsof bit
    break byte chandle checker class clocking const constraint context continue cover covergroup
    coverpoint cross dist do endchecker endclass endclocking endgroup endinterface endpackage
    endprogram endproperty endsequence enum eventually expect export extends extern final first_match
    foreach forkjoin global iff ignore_bins illegal_bins implements implies import inside int
    interconnect interface intersect join_any join_none let local logic longint matches modport
    nettype new nexttime null package packed priority program property protected pure rand randc
    randcase randsequence ref reject_on restrict return s_always s_eventually s_nexttime s_until
    s_until_with sequence shortint shortreal soft solve static string strong struct super
    sync_accept_on sync_reject_on tagged this throughout timeprecision timeunit type typedef union
    unique unique0 until until_with untyped var virtual void wait_order weak wildcard with within""".split()
)
KEYWORDS = VERILOG_KEYWORDS | SYSTEMVERILOG_KEYWORDS

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A directory name that is safe inside a Verilog string, a yosys script and a shell command.
_DIR_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def shipped_modules() -> frozenset[str]:
    """Module names hwsim's own RTL and harness define (a top must not reuse one)."""
    from hwsim import rtl_templates

    names = {p.stem for p in Path(rtl_templates.__file__).parent.glob("*.v")}
    return frozenset(names | {"hwsim_tb_stream"})


def check_identifier(name: str, what: str = "top module name") -> str:
    """Refuse anything that is not a plain identifier, a Verilog/SystemVerilog keyword, or a module hwsim ships."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, not {type(name).__name__}")
    if not _IDENT.fullmatch(name) or len(name) > 64 or name in KEYWORDS:
        raise FormatError(
            f"{what} must be a Verilog identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters, not a "
            f"Verilog or SystemVerilog keyword), not {name!r}"
        )
    if name in shipped_modules():
        raise FormatError(
            f"{what} must differ from the library blocks and the co-simulation harness "
            f"({', '.join(sorted(shipped_modules()))}), not {name!r}"
        )
    return name


def check_hdl_path(path: str | os.PathLike, what: str = "path") -> Path:
    """A path the HDL tools read: printable ASCII, no spaces, quotes or backslashes (absolute form checked)."""
    p = Path(path)
    full = str(p.absolute())
    bad = next((ch for ch in full if ch in '"\\' or ch.isspace() or not ch.isprintable() or not ch.isascii()), None)
    if bad is not None:
        raise FormatError(
            f"{what} must be plain ASCII without spaces, quotes, backslashes or control characters "
            f"(Icarus and yosys cannot read it otherwise), not {full!r}"
        )
    return p


def check_output_path(path: str | os.PathLike) -> Path:
    """The output directory path reaches Verilog strings and tool scripts: keep it plain."""
    p = Path(path)
    if not _DIR_NAME.fullmatch(p.name):
        raise FormatError(f"output directory name must match [A-Za-z0-9_][A-Za-z0-9_.+-]*, not {p.name!r}")
    return check_hdl_path(p, "output directory path")


def check_module_prefix(prefix: str, top: str | None = None) -> str:
    """A module-name prefix for the library blocks: an identifier start, so ``{prefix}rom`` etc. are
    identifiers and no keyword, and no block name may equal the top's."""
    from ._rtl import block_names

    if not isinstance(prefix, str):
        raise TypeError(f"module prefix must be a str, not {type(prefix).__name__}")
    if not _IDENT.fullmatch(prefix) or len(prefix) > 40:
        raise FormatError(f"module prefix must be a Verilog identifier ([A-Za-z_][A-Za-z0-9_]*, at most 40 characters), "
                          f"not {prefix!r}")
    names = block_names(prefix)
    bad = next((n for n in names if n in KEYWORDS or n == top), None)
    if bad is not None:
        raise FormatError(f"module prefix must give block names that are neither keywords nor the top's name, "
                          f"not {prefix!r} ({bad})")
    return prefix
