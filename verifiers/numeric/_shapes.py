"""Per-parameter shapes that an undeclared tensor kernel's body accepts together.

Without ``make_inputs`` or jaxtyping dims every tensor parameter gets the case's
shape, which a kernel such as ``a @ b`` or ``x @ w + bias`` rejects for almost
every case.  This module reads the OLD kernel's source with ``ast`` (it is never
imported here) and infers equalities between the parameters' dimensions:

* ``a @ b``, ``torch.matmul``/``mm``/``bmm``: the contracted dims equal, batch dims
  broadcast (``mm`` needs rank 2, ``bmm`` rank 3);
* ``torch.einsum("ij,jk->ik", a, b)``: one size per subscript letter (its rank too,
  without ``...``);
* ``.T``, ``.mT``, ``.t()``, ``transpose``/``swapaxes``/``permute`` with literal dims;
* elementwise operators, comparisons, ``torch.add/mul/where/...``, ``masked_fill``:
  trailing dims equal (equal sizes always broadcast, so this never excludes a case
  the body accepts by broadcasting a 1);
* ``F.linear(x, w, b)`` (``w`` rank 2), ``F.layer_norm``/``F.rms_norm``'s weight and
  bias along the trailing dims, ``F.embedding(ids, table)``;
* shape-preserving functions and methods (``exp``, ``softmax``, ``F.gelu`` ...),
  reductions with a literal ``dim``, and helpers defined in the same module, read
  with the arguments' shapes.

Anything else (``view``, indexing, unknown calls) has no known shape and adds no
equality.  Equalities are found per case shape, since a matmul's rules depend on
its operands' ranks: each parameter takes the case's rank (a per-feature one rank
1) unless an operation needs another, and the dims of each parameter are symbols
joined by a union-find.  Each class of equal dims then takes the size the case's
shape gives its first member (parameters in signature order), so the first
parameter keeps the case's shape; the largest other sizes are halved until every
tensor has at most ``CAP`` elements.  With no equality inferred the shapes are
today's: every tensor the case's shape.

``STRATEGIES`` are the alternatives the verifier tries in the old worker when the
inferred shapes still fail (``_verifier``): all the same shape, a chain whose last
dim feeds the next one's (``a @ b``), and a rank-1 bias along the last dim.
"""

from __future__ import annotations

import ast
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from verifiers.numeric._annotations import CAP, dotted

__all__ = ["STRATEGIES", "Shaper", "Shapes", "infer"]

Shapes = dict[str, tuple[int, ...]]
_Shape = list[int] | None  # symbol ids, outermost first; [] a scalar; None unknown

_NAMESPACES = ("torch", "F", "nn.functional", "torch.nn.functional", "jnp", "jax.numpy", "jax.nn", "torch.special",
               "np", "numpy", "math")
_SAME = frozenset({
    "abs", "exp", "exp2", "expm1", "log", "log1p", "log2", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid",
    "relu", "relu6", "gelu", "silu", "mish", "elu", "selu", "celu", "leaky_relu", "softplus", "softsign", "hardtanh",
    "erf", "erfc", "softmax", "log_softmax", "dropout", "normalize", "clamp", "clip", "clamp_min", "clamp_max",
    "square", "neg", "negative", "sign", "floor", "ceil", "round", "trunc", "reciprocal", "tril", "triu", "cumsum",
    "cumprod", "contiguous", "clone", "float", "double", "half", "bfloat16", "to", "type", "type_as", "detach",
    "logit", "nan_to_num", "sgn", "sinh", "cosh", "asin", "acos", "atan", "relu_", "abs_", "exp_", "flip",
    "masked_fill_", "zero_", "fill_", "mul_", "add_", "div_", "sub_", "clamp_", "requires_grad_", "cpu", "cuda",
    "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "real", "imag", "conj",
})
_ELEMENTWISE = frozenset({
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide", "pow", "maximum",
    "minimum", "fmax", "fmin", "where", "masked_fill", "atan2", "hypot", "fmod", "remainder", "lerp", "eq", "ne",
    "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "addcmul",
    "addcdiv", "expand_as", "copysign", "xlogy", "rsub",
})
_REDUCE = frozenset({"sum", "mean", "amax", "amin", "max", "min", "prod", "std", "var", "norm", "logsumexp", "all",
                     "any", "argmax", "argmin", "nansum", "nanmean", "median"})
_MATMUL = {"matmul": None, "mm": 2, "bmm": 3, "dot": 1, "inner": None}
_DEPTH = 4  # how deep module-level helpers are read


class _Dims:
    """A union-find over dimension symbols."""

    def __init__(self) -> None:
        self.parent: list[int] = []

    def fresh(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


class _Reader:
    """Reads one function body with its parameters at given ranks, joining dims as the operations demand."""

    def __init__(self, ranks: dict[str, int], helpers: dict[str, ast.FunctionDef]) -> None:
        self.dims = _Dims()
        self.params = {name: [self.dims.fresh() for _ in range(rank)] for name, rank in ranks.items()}
        self.helpers = helpers
        self.needed: dict[str, int] = {}  # parameters an operation needs at another rank

    def function(self, node: ast.FunctionDef, env: dict[str, _Shape], depth: int = 0) -> _Shape:
        returned: list[_Shape] = []
        self._block(node.body, env, returned, depth)
        return returned[0] if returned else None

    def _block(self, body: list[ast.stmt], env: dict[str, _Shape], returned: list[_Shape], depth: int) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                shape = self.expr(stmt.value, env, depth)
                for target in stmt.targets:
                    self._bind(target, shape, env)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                self._bind(stmt.target, self.expr(stmt.value, env, depth), env)
            elif isinstance(stmt, ast.AugAssign):
                shape = self._binop(stmt.op, self.expr(stmt.target, env, depth), self.expr(stmt.value, env, depth))
                self._bind(stmt.target, shape, env)
            elif isinstance(stmt, ast.Return) and stmt.value is not None:
                returned.append(self.expr(stmt.value, env, depth))
            elif isinstance(stmt, (ast.Expr, ast.Assert)):
                self.expr(stmt.value if isinstance(stmt, ast.Expr) else stmt.test, env, depth)
            elif isinstance(stmt, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
                for part in ("body", "orelse", "finalbody"):
                    self._block(getattr(stmt, part, []), env, returned, depth)

    def _bind(self, target: ast.expr, shape: _Shape, env: dict[str, _Shape]) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = shape
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._bind(element, None, env)

    # -- expressions ---------------------------------------------------------------------------

    def expr(self, node: ast.expr, env: dict[str, _Shape], depth: int) -> _Shape:
        if isinstance(node, ast.Name):
            return env.get(node.id)
        if isinstance(node, ast.Constant):
            return [] if isinstance(node.value, (int, float, bool)) else None
        if isinstance(node, ast.BinOp):
            return self._binop(node.op, self.expr(node.left, env, depth), self.expr(node.right, env, depth))
        if isinstance(node, ast.UnaryOp):
            return self.expr(node.operand, env, depth) if not isinstance(node.op, ast.Not) else None
        if isinstance(node, ast.Compare) and len(node.comparators) == 1:
            return self._broadcast(self.expr(node.left, env, depth), self.expr(node.comparators[0], env, depth))
        if isinstance(node, ast.IfExp):
            self.expr(node.test, env, depth)
            return self._broadcast(self.expr(node.body, env, depth), self.expr(node.orelse, env, depth))
        if isinstance(node, ast.Attribute):
            return self._attribute(node, env, depth)
        if isinstance(node, ast.Call):
            return self._call(node, env, depth)
        return None

    def _binop(self, op: ast.operator, left: _Shape, right: _Shape) -> _Shape:
        return self._matmul(left, right) if isinstance(op, ast.MatMult) else self._broadcast(left, right)

    def _attribute(self, node: ast.Attribute, env: dict[str, _Shape], depth: int) -> _Shape:
        base = self.expr(node.value, env, depth)
        if base is None:
            return None
        if node.attr == "T":
            return base[::-1]
        if node.attr == "mT" and len(base) >= 2:
            return base[:-2] + [base[-1], base[-2]]
        return base if node.attr in ("values", "real", "imag", "data") else None

    def _call(self, node: ast.Call, env: dict[str, _Shape], depth: int) -> _Shape:
        func = node.func
        name = dotted(func)
        if isinstance(func, ast.Name) and func.id in self.helpers and depth < _DEPTH:
            return self._helper(self.helpers[func.id], node, env, depth)
        if isinstance(func, ast.Attribute):
            head = func.value
            if dotted(head) in _NAMESPACES or (isinstance(head, ast.Name) and head.id not in env
                                               and head.id != "self"):
                return self._function(func.attr, node.args, node.keywords, env, depth)
            receiver = self.expr(head, env, depth)
            return self._function(func.attr, [head, *node.args], node.keywords, env, depth, receiver)
        return self._function(name, node.args, node.keywords, env, depth) if name in _SAME | _ELEMENTWISE else None

    def _function(self, name: str, args: list[ast.expr], keywords: list[ast.keyword], env: dict[str, _Shape],
                  depth: int, receiver: _Shape = None) -> _Shape:
        """``torch.<name>(*args)``, or the method ``<name>`` with the receiver as ``args[0]``."""
        if name == "einsum":
            return self._einsum(args, env, depth)
        shapes = [receiver if i == 0 and receiver is not None else self.expr(a, env, depth)
                  for i, a in enumerate(args) if not isinstance(a, ast.Starred)]
        kw = {k.arg: k.value for k in keywords if k.arg}
        first = shapes[0] if shapes else None
        if name in _MATMUL and len(shapes) >= 2:
            for arg in args[:2]:
                self._need(arg, _MATMUL[name], env)
            return self._matmul(shapes[0], shapes[1])
        if name in _ELEMENTWISE:
            result = first
            for shape in shapes[1:]:
                result = self._broadcast(result, shape)
            return result
        if name in _SAME:
            return first
        if name in _REDUCE:
            return self._reduce(first, args[1:], kw)
        if name in ("transpose", "swapaxes", "swapdims", "t", "permute", "unsqueeze"):
            return self._reorder(name, first, [_literal(a) for a in args[1:]])
        return self._layer(name, args, shapes, kw, env, depth)

    def _layer(self, name: str, args: list[ast.expr], shapes: list[_Shape], kw: dict[str, ast.expr],
               env: dict[str, _Shape], depth: int) -> _Shape:
        def arg(index: int, key: str) -> _Shape:
            if index < len(shapes):
                return shapes[index]
            return self.expr(kw[key], env, depth) if key in kw else None

        x = arg(0, "input")
        if name == "linear":
            weight, bias = arg(1, "weight"), arg(2, "bias")
            self._need(args[1] if len(args) > 1 else kw.get("weight"), 2, env)
            if x is None or weight is None or len(weight) != 2 or not x:
                return None
            self.dims.join(x[-1], weight[-1])
            if bias:
                self.dims.join(bias[-1], weight[0])
            return x[:-1] + [weight[0]]
        if name in ("layer_norm", "rms_norm"):
            for key, index in (("weight", 2), ("bias", 3)):
                self._broadcast(x, arg(index, key))
            return x
        if name == "embedding":
            table = arg(1, "weight")
            return x + table[-1:] if x is not None and table else None
        return None

    def _helper(self, node: ast.FunctionDef, call: ast.Call, env: dict[str, _Shape], depth: int) -> _Shape:
        names = [a.arg for a in node.args.posonlyargs + node.args.args]
        inner: dict[str, _Shape] = dict.fromkeys(names + [a.arg for a in node.args.kwonlyargs])
        for name, value in zip(names, call.args):
            inner[name] = self.expr(value, env, depth)
        for keyword in call.keywords:
            if keyword.arg in inner:
                inner[keyword.arg] = self.expr(keyword.value, env, depth)
        return self.function(node, inner, depth + 1)

    # -- shape rules ---------------------------------------------------------------------------

    def _broadcast(self, a: _Shape, b: _Shape) -> _Shape:
        # An operand of unknown shape is taken to broadcast into the known one (a scalar, a norm's statistic).
        if a is None or b is None:
            return a if b is None else b
        for x, y in zip(reversed(a), reversed(b)):
            self.dims.join(x, y)
        return list(a if len(a) >= len(b) else b)

    def _matmul(self, a: _Shape, b: _Shape) -> _Shape:
        if a is None or b is None or not a or not b:
            return None
        if len(a) == 1 and len(b) == 1:
            self.dims.join(a[0], b[0])
            return []
        if len(b) == 1:
            self.dims.join(a[-1], b[0])
            return a[:-1]
        self.dims.join(a[-1], b[-2])
        if len(a) == 1:
            return b[:-2] + b[-1:]
        batch = self._broadcast(a[:-2], b[:-2]) or []
        return batch + [a[-2], b[-1]]

    def _einsum(self, args: list[ast.expr], env: dict[str, _Shape], depth: int) -> _Shape:
        if not args or _literal(args[0]) is None or not isinstance(_literal(args[0]), str):
            return None
        spec = str(_literal(args[0])).replace(" ", "")
        operands = args[1].elts if len(args) == 2 and isinstance(args[1], (ast.List, ast.Tuple)) else args[1:]
        inputs, _, output = spec.partition("->")
        letters: dict[str, int] = {}
        ellipsis: _Shape = []
        for subscript, operand in zip(inputs.split(","), operands):
            shape = self.expr(operand, env, depth)
            letters_only = subscript.replace("...", "")
            if "..." not in subscript or (shape is not None and len(shape) < len(letters_only)):
                self._need(operand, len(letters_only), env)
            if shape is None or ("..." not in subscript and len(shape) != len(subscript)):
                continue
            head, _, tail = subscript.partition("...")
            middle = shape[len(head):len(shape) - len(tail)] if "..." in subscript else []
            for letter, dim in zip(head + tail, shape[:len(head)] + shape[len(shape) - len(tail):]):
                if letter in letters:
                    self.dims.join(letters[letter], dim)
                letters.setdefault(letter, dim)
            ellipsis = self._broadcast(ellipsis, middle)
        if "->" not in spec:
            return None
        head, _, tail = output.partition("...")
        known = all(letter in letters for letter in head + tail)
        return [letters[c] for c in head] + (ellipsis or [] if "..." in output else []) + [letters[c] for c in tail] \
            if known else None

    def _reduce(self, shape: _Shape, args: list[ast.expr], kw: dict[str, ast.expr]) -> _Shape:
        if shape is None:
            return None
        dim = _literal(args[0]) if args else _literal(kw.get("dim"))
        keep = _literal(kw.get("keepdim", kw.get("keepdims", args[1] if len(args) > 1 else None))) is True
        if dim is None:
            return [] if not args and "dim" not in kw else None
        dims = dim if isinstance(dim, tuple) else (dim,)
        if not all(isinstance(d, int) and -len(shape) <= d < len(shape) for d in dims):
            return None
        gone = {d % len(shape) for d in dims}
        if keep:  # a kept dim has size 1: a fresh symbol, so broadcasting it joins nothing
            return [self.dims.fresh() if i in gone else s for i, s in enumerate(shape)]
        return [s for i, s in enumerate(shape) if i not in gone]

    def _reorder(self, name: str, shape: _Shape, literals: list[object]) -> _Shape:
        if shape is None:
            return None
        if name == "t":
            return shape[::-1] if len(shape) <= 2 else None
        if name == "unsqueeze":
            at = literals[0] if literals and isinstance(literals[0], int) else None
            if at is None or not -len(shape) - 1 <= at <= len(shape):
                return None
            at = at % (len(shape) + 1)
            return shape[:at] + [self.dims.fresh()] + shape[at:]
        order = literals[0] if name == "permute" and len(literals) == 1 and isinstance(literals[0], tuple) \
            else tuple(literals)
        if not order or not all(isinstance(d, int) and -len(shape) <= d < len(shape) for d in order):
            return None
        if name == "permute":
            return [shape[d] for d in order] if len(order) == len(shape) else None
        if len(order) != 2:
            return None
        found = list(shape)
        i, j = order
        found[i], found[j] = found[j], found[i]
        return found

    def _need(self, node: ast.expr | None, rank: int | None, env: dict[str, _Shape]) -> None:
        """Record that a parameter, passed as is or transposed, must have ``rank`` dims (``mm``, an einsum operand)."""
        while isinstance(node, (ast.Attribute, ast.Call)):
            inner = node.func if isinstance(node, ast.Call) else node
            if not isinstance(inner, ast.Attribute) or inner.attr not in ("T", "mT", "t", "transpose", "contiguous"):
                return
            node = inner.value
        if rank is None or not isinstance(node, ast.Name):
            return
        for param, dims in self.params.items():
            if env.get(node.id) is dims and len(dims) != rank:
                self.needed[param] = rank


def _literal(node: ast.expr | None) -> object:
    try:
        value = ast.literal_eval(node) if node is not None else None
    except (ValueError, SyntaxError, TypeError):
        return None
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class Shaper:
    """Per-parameter shapes for one kernel: ``shapes(case)`` for each default case shape.

    ``names`` are the parameters shaped, in signature order; ``features`` those that
    take one dim by default (``weight``, ``bias``).
    """

    names: tuple[str, ...]
    features: frozenset[str]
    node: ast.FunctionDef
    helpers: tuple[tuple[str, ast.FunctionDef], ...]

    def read(self, case: tuple[int, ...]) -> tuple[_Reader, dict[str, int]]:
        """The body read at this case's ranks (re-read where an operation needs another rank)."""
        ranks = {n: 1 if n in self.features else max(len(case), 1) for n in self.names}
        for _ in range(3):
            reader = _Reader(ranks, dict(self.helpers))
            reader.function(self.node, {n: reader.params[n] for n in self.names})
            if all(ranks[p] == r for p, r in reader.needed.items()):
                break
            ranks = {**ranks, **reader.needed}
        return reader, ranks

    def equalities(self, case: tuple[int, ...]) -> list[tuple[tuple[str, int], tuple[str, int]]]:
        """Every equality inferred at this case's ranks, as ``((param, dim), (param, dim))``, dims from the right."""
        reader, _ = self.read(case)
        where = {s: (p, i - len(dims)) for p, dims in reader.params.items() for i, s in enumerate(dims)}
        roots: dict[int, tuple[str, int]] = {}
        found = []
        for symbol, place in where.items():
            root = reader.dims.find(symbol)
            if root in roots:
                found.append((roots[root], place))
            roots.setdefault(root, place)
        return found

    def describe(self, case: tuple[int, ...] = (2, 3, 5)) -> str:
        """The equalities at a rank-3 case, as code: ``a.shape[-1] == b.shape[-2]``."""
        return ", ".join(f"{a}.shape[{i}] == {b}.shape[{j}]" for (a, i), (b, j) in self.equalities(case)
                         if a != b or i != j)

    def shapes(self, case: tuple[int, ...], cap: int = CAP, first: str | None = None) -> Shapes:
        """Each parameter's shape for a default case of shape ``case``, every inferred equality holding.

        ``first`` names the parameter that keeps the case's shape (by default the
        first one): a threshold case built around that parameter's shape.
        """
        reader, ranks = self.read(case)
        pool = case or (1,)
        size: dict[int, int] = {}
        order = sorted(self.names, key=lambda n: n != first) if first in self.names else list(self.names)
        for name in order:
            roots, rank = [reader.dims.find(s) for s in reader.params[name]], ranks[name]
            # Sizes this tensor shares with earlier ones; its own free dims avoid them where the case allows,
            # so that a transposed operand (``a @ b`` rewritten as ``a @ b.T``) cannot fit by accident.
            shared = {size[r] for r in roots if r in size}
            for i, root in enumerate(roots):
                own = pool[-1] if name in self.features and rank == 1 else (
                    pool[i - rank] if rank - i <= len(pool) else pool[0])
                if root not in size and own in shared:
                    own = next((s for s in reversed(pool) if s not in shared), own)
                size.setdefault(root, own)
        primary = {reader.dims.find(s) for s in reader.params[order[0]]} if order else set()
        for name in self.names:
            _fit([reader.dims.find(s) for s in reader.params[name]], size, primary, cap)
        return {n: tuple(size[reader.dims.find(s)] for s in reader.params[n]) for n in self.names}


def _fit(roots: list[int], size: dict[int, int], primary: set[int], cap: int) -> None:
    """Halve the largest sizes of one tensor, the first parameter's last, until it has at most ``cap`` elements."""
    while math.prod(size[r] for r in roots) > cap:
        root = max(roots, key=lambda r: (r not in primary, size[r]))
        if size[root] <= 1:
            root = max(roots, key=lambda r: size[r])
        if size[root] <= 1:
            return
        size[root] = max(1, (size[root] // 2) | 1)


def infer(source: str, names: list[str], features: set[str], module_text: str = "") -> Shaper | None:
    """A ``Shaper`` for the kernel in ``source``, or None when its body joins no two parameters' dims.

    ``module_text`` supplies the module-level helpers the body calls.  None keeps
    today's shapes: every tensor the case's shape, per-feature ones its last dim.
    """
    try:
        tree = ast.parse(textwrap.dedent(source))
        helpers = tuple((n.name, n) for n in ast.parse(module_text).body if isinstance(n, ast.FunctionDef)) \
            if module_text else ()
    except SyntaxError:
        return None
    node = next((n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)), None)
    if node is None or not names:
        return None
    shaper = Shaper(tuple(names), frozenset(features), node, helpers)
    for case in ((7,), (3, 5), (5, 1, 9), (2, 3, 7, 16)):
        if shaper.read(case)[1] != {n: 1 if n in features else len(case) for n in names} or shaper.equalities(case):
            return shaper
    return None


def _same(names: list[str], features: set[str], case: tuple[int, ...]) -> Shapes:
    return {n: case[-1:] if n in features else case for n in names}


def _chain(names: list[str], features: set[str], case: tuple[int, ...]) -> Shapes:
    """Each tensor's trailing pair the previous one's swapped: ``a @ b @ c`` at any batch rank."""
    found: Shapes = {}
    last = case
    for name in names:
        if name in features:
            found[name] = last[-1:]
            continue
        found[name] = last = case if name == names[0] or len(case) < 2 else last[:-2] + (last[-1], last[-2])
    return found


def _bias(names: list[str], features: set[str], case: tuple[int, ...]) -> Shapes:
    """The case's shape, and the last tensor parameter a rank-1 bias along its last dim."""
    found = _same(names, features, case)
    tensors = [n for n in names if n not in features]
    if len(tensors) > 1:
        found[tensors[-1]] = case[-1:]
    return found


STRATEGIES: dict[str, Callable[[list[str], set[str], tuple[int, ...]], Shapes]] = {
    "same shape": _same, "chain (last dim feeds the next)": _chain, "rank-1 bias along the last dim": _bias,
}
