"""Two semantics for Python floats, behind one interface, and the cheap-first order they are tried in.

``Ieee`` is IEEE-754 binary64 with round-nearest-even (z3's FP theory): exact, but
bit-blasted and possibly slow.  ``Uninterpreted`` replaces every float operation
and predicate by an uninterpreted function over an uninterpreted sort: whatever it
proves holds for *every* interpretation, IEEE-754 included, so a proof there is a
proof for IEEE (used only for equivalence, where both sides use the same
operations); a counterexample there proves nothing and is never reported.
Real-number semantics are not offered.
"""

from __future__ import annotations

import struct
from typing import Any

import z3

__all__ = ["Ieee", "Uninterpreted", "float_of_model"]

_EXACT_INT = 2 ** 53
_CMP_INF = {  # the result of `n OP x` when x is +inf (first) or -inf (second), n an int
    "<": (True, False), "<=": (True, False), ">": (False, True), ">=": (False, True),
    "==": (False, False), "!=": (True, True),
}


def _real_cmp(op: str, a: Any, b: Any) -> Any:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]


class Ieee:
    """IEEE-754 binary64 via z3 FP, round-nearest-even."""

    name = "IEEE-754 binary64 (z3 FP, round-nearest-even)"

    def __init__(self) -> None:
        self.sort = z3.Float64()
        self.rm = z3.RNE()
        self.used = False
        self.opaque: set[str] = set()
        self._math: dict[str, Any] = {}

    def math(self, name: str, a: Any) -> Any:
        """``math.<name>(a)``: exact for ``sqrt`` (correctly rounded in IEEE-754), uninterpreted otherwise."""
        self.used = True
        if name == "sqrt":
            return z3.fpSqrt(self.rm, a)
        self.opaque.add(f"math.{name}")
        return self._uf(f"math_{name}", self.sort, self.sort)(a)

    def math_of_huge_int(self, name: str, n: Any) -> Any:
        """``math.<name>(n)`` of an int too large for a float (``log`` and kin): uninterpreted."""
        self.used = True
        self.opaque.add(f"math.{name}")
        return self._uf(f"math_{name}_of_huge_int", z3.IntSort(), self.sort)(n)

    def math_raises(self, name: str, error: str, a: Any) -> Any:
        """Whether ``math.<name>(a)`` raises ``error``; uninterpreted except for ``sqrt``."""
        if name == "sqrt":
            return z3.fpLT(a, self.const(0.0)) if error == "ValueError" else z3.BoolVal(False)
        return self._uf(f"math_{name}_raises_{error}", self.sort, z3.BoolSort())(a)

    def _uf(self, name: str, *sorts: Any) -> Any:
        if name not in self._math:
            self._math[name] = z3.Function(name, *sorts)
        return self._math[name]

    def const(self, value: float) -> Any:
        self.used = True
        bits = struct.unpack("<Q", struct.pack("<d", value))[0]
        return z3.fpBVToFP(z3.BitVecVal(bits, 64), self.sort)

    def from_int(self, n: Any) -> Any:
        self.used = True
        return z3.fpToFP(self.rm, z3.ToReal(n), self.sort)

    def from_ratio(self, a: Any, b: Any) -> Any:
        """Python's ``int / int``: the exact quotient, correctly rounded (b != 0 is guarded by the caller);
        its sign is that of ``a * b``, so ``0 / -7`` is ``-0.0``, which the exact quotient 0 cannot carry."""
        self.used = True
        quotient = z3.fpToFP(self.rm, z3.ToReal(a) / z3.ToReal(b), self.sort)
        return z3.If(z3.And(a == 0, b < 0), z3.fpMinusZero(self.sort), quotient)

    def arith(self, op: str, a: Any, b: Any) -> Any:
        self.used = True
        fn = {"+": z3.fpAdd, "-": z3.fpSub, "*": z3.fpMul, "/": z3.fpDiv}[op]
        return fn(self.rm, a, b)

    def neg(self, a: Any) -> Any:
        return z3.fpNeg(a)

    def abs(self, a: Any) -> Any:
        return z3.fpAbs(a)

    def cmp(self, op: str, a: Any, b: Any) -> Any:
        if op == "!=":
            return z3.Not(z3.fpEQ(a, b))
        return {"<": z3.fpLT, "<=": z3.fpLEQ, ">": z3.fpGT, ">=": z3.fpGEQ, "==": z3.fpEQ}[op](a, b)

    def cmp_int(self, op: str, n: Any, x: Any) -> Any:
        """``n OP x`` for an int ``n`` and a float ``x``, compared exactly as Python does (not by conversion)."""
        simple = z3.simplify(n)
        if z3.is_int_value(simple) and abs(simple.as_long()) <= _EXACT_INT:
            return self.cmp(op, self.const(float(simple.as_long())), x)
        pos, neg = _CMP_INF[op]
        on_inf = z3.If(z3.fpIsPositive(x), z3.BoolVal(pos), z3.BoolVal(neg))
        finite = _real_cmp(op, z3.ToReal(n), z3.fpToReal(x))
        return z3.If(z3.fpIsNaN(x), z3.BoolVal(op == "!="), z3.If(z3.fpIsInf(x), on_inf, finite))

    def is_nan(self, a: Any) -> Any:
        return z3.fpIsNaN(a)

    def is_inf(self, a: Any) -> Any:
        return z3.fpIsInf(a)

    def is_zero(self, a: Any) -> Any:
        return z3.fpIsZero(a)

    def to_int(self, how: str, a: Any) -> Any:
        """floor/ceil/trunc of a finite float, as an exact integer."""
        r = z3.fpToReal(a)
        floor = z3.ToInt(r)
        ceil = -z3.ToInt(-r)
        return {"floor": floor, "ceil": ceil, "trunc": z3.If(r >= 0, floor, ceil)}[how]

    def same(self, a: Any, b: Any) -> Any:
        """Python data equality of two floats: bit-for-bit, NaN equal to NaN (SMT-LIB has a single NaN)."""
        return a == b


class Uninterpreted(Ieee):
    """Every float operation an uninterpreted function: proofs here hold for IEEE-754 too."""

    name = "uninterpreted float operations (valid for IEEE-754)"

    def __init__(self) -> None:
        super().__init__()
        self.sort = z3.DeclareSort("PyFloat")
        self._functions: dict[str, Any] = {}
        self._constants: dict[int, Any] = {}

    def _fn(self, name: str, *sorts: Any) -> Any:
        if name not in self._functions:
            self._functions[name] = z3.Function(f"float_{name}", *sorts)
        return self._functions[name]

    def const(self, value: float) -> Any:
        self.used = True
        bits = struct.unpack("<Q", struct.pack("<d", value))[0]
        if bits not in self._constants:
            self._constants[bits] = z3.Const(f"float_{value!r}_{bits:x}", self.sort)
        return self._constants[bits]

    def from_int(self, n: Any) -> Any:
        self.used = True
        return self._fn("from_int", z3.IntSort(), self.sort)(n)

    def from_ratio(self, a: Any, b: Any) -> Any:
        self.used = True
        return self._fn("ratio", z3.IntSort(), z3.IntSort(), self.sort)(a, b)

    def arith(self, op: str, a: Any, b: Any) -> Any:
        self.used = True
        return self._fn(f"op{op}", self.sort, self.sort, self.sort)(a, b)

    def neg(self, a: Any) -> Any:
        return self._fn("neg", self.sort, self.sort)(a)

    def abs(self, a: Any) -> Any:
        return self._fn("abs", self.sort, self.sort)(a)

    def cmp(self, op: str, a: Any, b: Any) -> Any:
        return self._fn(f"cmp{op}", self.sort, self.sort, z3.BoolSort())(a, b)

    def cmp_int(self, op: str, n: Any, x: Any) -> Any:
        return self._fn(f"icmp{op}", z3.IntSort(), self.sort, z3.BoolSort())(n, x)

    def is_nan(self, a: Any) -> Any:
        return self._fn("isnan", self.sort, z3.BoolSort())(a)

    def is_inf(self, a: Any) -> Any:
        return self._fn("isinf", self.sort, z3.BoolSort())(a)

    def is_zero(self, a: Any) -> Any:
        return self._fn("iszero", self.sort, z3.BoolSort())(a)

    def to_int(self, how: str, a: Any) -> Any:
        return self._fn(how, self.sort, z3.IntSort())(a)

    def math(self, name: str, a: Any) -> Any:
        self.used = True
        self.opaque.add(f"math.{name}")
        return self._fn(f"math_{name}", self.sort, self.sort)(a)

    def math_of_huge_int(self, name: str, n: Any) -> Any:
        self.used = True
        self.opaque.add(f"math.{name}")
        return self._fn(f"math_{name}_of_huge_int", z3.IntSort(), self.sort)(n)

    def math_raises(self, name: str, error: str, a: Any) -> Any:
        return self._fn(f"math_{name}_raises_{error}", self.sort, z3.BoolSort())(a)


def float_of_model(model: Any, term: Any) -> float:
    """The Python float a model gives an FP term (NaN for NaN, -0.0 kept)."""
    if z3.is_true(model.eval(z3.fpIsNaN(term), model_completion=True)):
        return float("nan")
    bits = model.eval(z3.fpToIEEEBV(term), model_completion=True).as_long()
    return struct.unpack("<d", struct.pack("<Q", bits))[0]
