"""Runs INSIDE a worker: one traced call, returning which way each conditional jump went, as data.

The trusted side (``verifiers._branches``) lists the conditions a patch added; this
harness calls the new version once more on an input that was already compared and
reports, for every conditional jump executed in the definition's own code, what it
saw of the value it tested.  The call's result is not returned (it was compared
already); nothing here judges.  Stdlib only: it is imported in the worker.

Why opcodes and not lines: a ternary, an ``and`` or an early ``return`` on the
condition's line takes both ways without a new line event; a conditional jump's
direction is exact.  Tracing is turned on only for code objects of the definition
(by file and line range), so the cost is the definition's own bytecode.
"""

from __future__ import annotations

import dis
import importlib
import inspect
import sys

__all__ = ["cover", "filename_of", "jump_table", "traced"]

# Direction of a jump -> what it saw: T/F truthy/falsy, N/S None/something else.
_JUMPED = {"IF_TRUE": "T", "IF_FALSE": "F", "IF_NONE": "N", "IF_NOT_NONE": "S"}
_FELL = {"T": "F", "F": "T", "N": "S", "S": "N"}


def cover(spec, receiver, args, kwargs):
    """Call ``spec["target"]`` on ``args``/``kwargs`` with jump tracing; return the jumps' outcomes.

    ``spec``: ``target`` ("module:qualname"), ``first``/``last`` (the definition's lines
    in its file).  ``receiver``, when not None, is the built object the method is
    looked up on.  Returns ``{"seen": [[lineno, end_lineno, col, end_col, variant, outcome], ...],
    "raised": type name or None, "traced": bool}``.
    """
    module_name, _, qualname = spec["target"].partition(":")
    if receiver is not None:
        function = getattr(receiver, qualname.rpartition(".")[2])
    else:
        function = importlib.import_module(module_name)
        for part in qualname.split("."):
            function = getattr(function, part)
    return traced(lambda: function(*args, **kwargs), filename_of(function, module_name), int(spec["first"]),
                  int(spec["last"]))


def traced(call, filename, first, last):
    """Run ``call()`` tracing the jumps of code compiled from ``filename`` that starts within lines ``first..last``.

    The kernel harness uses this with a call it built itself; ``cover`` with a target and arguments.
    """
    seen = set()
    tables = {}
    traced = []

    def local_for(code):
        table = tables.get(id(code))
        if table is None:
            table = tables[id(code)] = jump_table(code)
        pending = [None]

        def local(frame, event, arg):
            if event == "opcode":
                offset = frame.f_lasti
                jump = pending[0]
                if jump is not None:
                    span, token, target = jump
                    seen.add((*span, token if offset == target else _FELL[token]))
                    pending[0] = None
                pending[0] = table.get(offset)
            return local
        return local

    def tracer(frame, event, arg):
        code = frame.f_code
        if event != "call" or code.co_filename != filename or not first <= code.co_firstlineno <= last:
            return None
        traced.append(1)
        frame.f_trace_lines = False
        frame.f_trace_opcodes = True
        return local_for(code)

    raised = None
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the outcome was compared already; only the jumps matter
        raised = f"{type(error).__module__}.{type(error).__qualname__}"
    finally:
        sys.settrace(previous)
    return {"seen": [list(row) for row in sorted(seen)], "raised": raised, "traced": bool(traced)}


def filename_of(function, module_name):
    """The file the definition's code was compiled from (its module's, for callables without code)."""
    try:
        code = getattr(inspect.unwrap(getattr(function, "__func__", function)), "__code__", None)
    except ValueError:  # a __wrapped__ cycle
        code = None
    if code is not None:
        return code.co_filename
    return getattr(sys.modules.get(module_name), "__file__", None)


def jump_table(code):
    """Offsets of the conditional jumps of ``code`` -> ((position, variant), outcome when jumping, jump target).

    ``position`` is the tested expression's (lineno, end_lineno, col, end_col).  Several jumps
    can share one: a chained comparison ``a < x < b`` jumps once per comparison, a ``while``
    tests its condition before the loop and again at its end.  ``variant`` tells the first
    kind apart and merges the second: jumps of one position whose own instructions (those
    since the previous jump that lie inside the position) are the same are one variant.
    The trusted side computes the same table from the same source (``verifiers._branches``).
    """
    table, variants, run = {}, {}, []
    for instruction in dis.get_instructions(code):
        pos = instruction.positions
        span = None
        if pos is not None and None not in (pos.lineno, pos.end_lineno, pos.col_offset, pos.end_col_offset):
            span = (pos.lineno, pos.end_lineno, pos.col_offset, pos.end_col_offset)
        name = instruction.opname
        kind = None
        if "JUMP" in name and "_IF_" in name:
            kind = next((token for suffix, token in _JUMPED.items() if name.endswith(suffix)
                         or name.endswith(suffix + "_OR_POP")), None)
        if kind is None or span is None:
            run.append((span, name, instruction.argrepr))
            continue
        own = tuple((n, a) for s, n, a in run if s is not None and _inside(s, span))
        known = variants.setdefault(span, [])
        if own not in known:
            known.append(own)
        table[instruction.offset] = ((*span, known.index(own)), kind, instruction.argval)
        run = []
    return table


def _inside(inner, outer):
    return (outer[0], outer[2]) <= (inner[0], inner[2]) and (inner[1], inner[3]) <= (outer[1], outer[3])
