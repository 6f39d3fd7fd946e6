"""The plan of a kernel check: the harness target, the framework, the cases, how to build a module.

Everything is read from source with ``ast`` (the kernel is never imported in the
trusted process); what cannot be worked out is ``Unsupported``, with the property
to state instead.
"""

from __future__ import annotations

import ast
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from properties import Kernel, Obligation
from verifiers._contract import Context
from verifiers.numeric._annotations import CAP
from verifiers.numeric._inputs import Case, Param, Unsupported, cases, framework, parameters, resized, substitutes
from verifiers.numeric._shapes import STRATEGIES, Shaper, infer
from verifiers.numeric._threshold_cases import extra_dtypes, threshold_cases
from verifiers.numeric._thresholds import Threshold, mine

__all__ = ["Alternative", "Plan", "plan"]

Substitutes = Callable[[Case], list[Case]]


@dataclass(frozen=True)
class Alternative:
    """Another shaping of an undeclared kernel's parameters: its name, its generated cases, their substitutes."""

    name: str
    cases: tuple[Case, ...]
    substitutes: Substitutes


@dataclass(frozen=True)
class Plan:
    """``target`` is ``module:qualname`` for the harness; ``module`` says how to build an ``nn.Module``.

    ``thresholds`` are those mined from the old and new kernel (``_thresholds``), whose
    cases carry ``Case.threshold``; ``extra_dtypes`` are the float dtypes they compare
    against that the property did not configure, already appended to ``spec.dtypes``.
    ``substitutes`` gives, for a generated default case the old kernel rejects, the
    cases to try in its place (``_inputs.substitutes`` with this plan's shaping); None
    with ``make_inputs``, whose cases are the user's domain.
    """

    target: str
    framework: str
    cases: list[Case]
    module: dict[str, Any] | None
    spec: Kernel
    thresholds: tuple[Threshold, ...] = ()
    extra_dtypes: tuple[str, ...] = ()
    shaping: str = ""
    alternatives: tuple[Alternative, ...] = ()
    substitutes: Substitutes | None = None


def plan(obligation: Obligation, context: Context) -> Plan:
    """What to run for a kernel obligation; raises ``Unsupported`` with the fix when it cannot be run."""
    spec = obligation.spec if isinstance(obligation.spec, Kernel) else Kernel(obligation.target)
    module_name = obligation.module or obligation.target.rpartition(".")[0]
    qualname = obligation.target[len(module_name) + 1:] if obligation.target.startswith(module_name + ".") else ""
    if not module_name or not qualname:
        raise Unsupported(f"cannot tell the module of {obligation.target!r}")
    text = context.after.get(obligation.path) or context.before.get(obligation.path) or ""
    parts = qualname.split(".")
    module = None
    if len(parts) > 2:
        raise Unsupported("nested definitions are not supported; state a top-level kernel")
    if len(parts) == 2:
        module = _module_kernel(text, parts[0], parts[1], context.seed)
    params = parameters(obligation.new_source, method=module is not None)
    annotations = " ".join(_annotations(obligation.new_source))
    fw = "torch" if module is not None else framework(annotations, text)
    if fw is None:
        raise Unsupported("neither torch nor jax is named by the kernel's annotations or its module's imports; "
                          "annotate tensor parameters as torch.Tensor or jax.Array")
    passed = {p.name for p in params if p.kind != "default"}
    unknown = [name for name, _ in spec.carry if name not in passed]
    if unknown:
        raise Unsupported(f"kernel(carry=...) names {', '.join(unknown)}, which the kernel does not take as a "
                          f"tensor input (its inputs: {', '.join(sorted(passed)) or 'none'}); carry maps a state "
                          "parameter to the output that feeds it next step")
    last = module.pop("last_dim", None) if module else None
    shaping, shaper, alternatives = _shapings(obligation, context, params, spec, last)
    found = cases(params, context.seed, spec.make_inputs, last_dim=last, shaped=shaper.shapes if shaper else None)
    mined = _mined(obligation, context, params, fw, module is not None)
    user = found if spec.make_inputs is not None else None
    around = threshold_cases(mined, params, context.seed, user, last_dim=last, init=module["init"] if module else None)
    found = found + (_fitted(around, mined, shaper) if shaper is not None and module is None else around)
    extra = extra_dtypes(mined, spec.dtypes)
    others = None if spec.make_inputs is not None else partial(
        substitutes, params, seed=context.seed, last_dim=last, shaped=shaper.shapes if shaper else None)
    return Plan(f"{module_name}:{qualname}", fw, found, module, replace(spec, dtypes=spec.dtypes + extra),
                tuple(mined), extra, shaping, alternatives, others)


def _fitted(around: list[Case], mined: list[Threshold], shaper: Shaper) -> list[Case]:
    """Threshold cases with the other parameters reshaped to fit the one each threshold is about.

    ``_threshold_cases`` builds them with every tensor at one shape; a kernel whose body
    joins its parameters' dims (``x @ w``) would reject nearly all of them.
    """
    about = {t.describe(): t.param for t in mined}
    found = []
    for case in around:
        param = about.get(case.threshold)
        own = next((a["array"].shape for a in [*case.args, *(v for _, v in case.kwargs)]
                    if a.get("name") == param and "array" in a), None)
        planned = shaper.shapes(tuple(own), cap=max(CAP, math.prod(own)), first=param) if own is not None else {}
        if planned.get(str(param)) != tuple(own or ()):
            found.append(case)  # the body needs that parameter at another rank: kept as built (maybe skipped)
            continue
        fitted = resized(case, planned)
        found.append(fitted if fitted is case else
                     replace(fitted, label=f"{case.threshold}: {case.point}; {fitted.label}"))
    return found


def _shapings(obligation: Obligation, context: Context, params: list[Param], spec: Kernel,
              last: int | None) -> tuple[str, Shaper | None, tuple[Alternative, ...]]:
    """How to shape an undeclared kernel's parameters: the inferred shaping, and the alternatives to try.

    Only for a kernel with two or more tensor parameters and no declaration (no
    ``make_inputs``, no jaxtyping dims): a declared domain is the user's statement.
    """
    shaped = [p for p in params if p.kind in ("tensor", "feature", "mask", "index")]
    if spec.make_inputs is not None or len(shaped) < 2 or any(p.dims is not None for p in shaped):
        return "", None, ()
    names, features = [p.name for p in shaped], {p.name for p in shaped if p.kind == "feature"}
    shaper = infer(obligation.old_source or "", names, features, context.before.get(obligation.path) or "")
    shaping = f"shapes inferred from the old kernel's body ({shaper.describe() or 'ranks'})" if shaper else ""
    own = cases(params, context.seed, None, last_dim=last, shaped=shaper.shapes if shaper else None)
    seen, alternatives = {tuple(c.shapes for c in own)}, []
    for name, strategy in STRATEGIES.items():
        shaped = partial(strategy, names, features)
        found = cases(params, context.seed, None, last_dim=last, shaped=shaped)
        if tuple(c.shapes for c in found) not in seen:
            seen.add(tuple(c.shapes for c in found))
            alternatives.append(Alternative(f"shapes from the candidate '{name}'", tuple(found),
                                            partial(substitutes, params, seed=context.seed, last_dim=last,
                                                    shaped=shaped)))
    return shaping, shaper, tuple(alternatives)


def _mined(obligation: Obligation, context: Context, params: list[Param], fw: str, method: bool) -> list[Threshold]:
    """Thresholds of both versions; one found in both is reported once, as the new kernel's line."""
    found: dict[tuple[Any, ...], Threshold] = {}
    versions = (("old", obligation.old_source, context.before, obligation.old_lines),
                ("new", obligation.new_source, context.after, obligation.new_lines))
    for version, source, texts, lines in versions:
        if not source:
            continue
        names = {p.name for p in parameters(source, method=method)} | {p.name for p in params}
        known = {p.name for p in params}
        own = [p for p in params if p.name in names] + [Param(n, "tensor") for n in sorted(names - known)]
        for threshold in mine(source, own, version, texts.get(obligation.path, ""), lines[0] if lines else 1, fw):
            key = threshold.key()
            found[key] = replace(threshold, version="old and new") if key in found else threshold
    return list(found.values())


def _annotations(source: str) -> list[str]:
    tree = ast.parse(textwrap.dedent(source))
    node = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
    return [ast.unparse(a.annotation) for a in args if a.annotation is not None]


def _module_kernel(text: str, cls_name: str, method: str, seed: int) -> dict[str, Any]:
    """How the harness builds an ``nn.Module`` subclass: constructor arguments and a parameter seed."""
    cls = next((n for n in ast.parse(text).body if isinstance(n, ast.ClassDef) and n.name == cls_name), None)
    if cls is None or not any("Module" in ast.unparse(b) for b in cls.bases):
        raise Unsupported(f"{cls_name}.{method} is a method of a class that is not a torch.nn.Module subclass; "
                          "only functions and nn.Module methods are compared numerically")
    init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    kwargs: dict[str, Any] = {}
    if init is not None:
        for param in parameters(ast.unparse(init), method=True):
            if param.kind in ("tensor", "feature", "mask", "index"):
                kwargs[param.name] = 2 if "head" in param.name.lower() else 16
            elif param.kind == "scalar":
                note = next(ast.unparse(a.annotation) for a in init.args.args if a.arg == param.name)
                if note != "int":
                    raise Unsupported(f"{cls_name}.__init__ needs {param.name}: {note}; give it with "
                                      "make_inputs returning {'__init__': {...}, ...}")
                kwargs[param.name] = 2 if "head" in param.name.lower() else 16
    return {"cls": cls_name, "method": method, "init": kwargs, "param_seed": seed,
            "last_dim": 16 if kwargs else None}
