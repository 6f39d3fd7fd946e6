"""``KernelComparator``: old vs new tensor kernels against a float64 oracle, forward and backward.

The trusted process generates inputs with numpy, sends them to the harness in the
old and the new worker (never importing torch or jax itself), and judges the
returned facts: the calibrated error bound on every output and gradient, and the
named anti-cheat checks of ``_checks``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from properties import Kind, Obligation
from verifiers._calls import finished_well_within
from verifiers._contract import Context, Counterexample, Evidence, Level, Outcome, OutcomeKind, Verifier
from verifiers.numeric import _checks, _coverage, _devices, _modes, _report, _steps, _threshold_cases
from verifiers.numeric._inputs import LARGE, SMALL, WIDE, Case, Unsupported, eps
from verifiers.numeric._plan import Plan, plan
from verifiers.numeric._tolerance import Stats

__all__ = ["KernelComparator"]

HARNESS = "verifiers.numeric._harness"
_MAGNITUDES = {"large": f"large-magnitude |x| in [{LARGE[0]:g}, {LARGE[1]:g}]",
               "wide": f"wide-magnitude |x| from {WIDE[0]:g} to {WIDE[1]:g}",
               "small": f"small-magnitude x ~ {SMALL:g} x N(0, 1)"}
_REFUTING_DEATHS = {"timeout", "cpu", "memory", "exit", "signal"}
# A new kernel's timeout is its own fault only when the old one finished the same call in
# well under the time the new one was given; otherwise a loaded machine cannot be ruled out.
_SLOW_DEATHS = {"timeout", "cpu"}


class _Stop(Exception):
    """Ends a run early with its evidence."""

    def __init__(self, evidence: Evidence) -> None:
        super().__init__(evidence.detail)
        self.evidence = evidence


class KernelComparator(Verifier):
    """Numeric equivalence of a changed torch/jax kernel (the ``kernel`` obligation)."""

    name = "numeric"

    def _check(self, obligation: Obligation, context: Context) -> Evidence:
        if obligation.kind is not Kind.KERNEL:
            return self._unknown(f"{obligation.target}: the numeric verifier answers kernel obligations only, "
                                 f"not {obligation.kind.value}")
        if context.executor is None:
            return self._unknown(f"{obligation.target}: no isolated executor was given, so the kernel cannot be run")
        if not obligation.old_source or not obligation.new_source:
            return self._unknown(f"{obligation.target}: both an old and a new definition are needed to compare")
        try:
            found = plan(obligation, context)
            return _Run(self.name, obligation, context, found).evidence()
        except Unsupported as error:
            return self._unknown(f"{obligation.target}: {error}")
        except _Stop as stop:
            return stop.evidence

    def _unknown(self, detail: str) -> Evidence:
        return Evidence(Level.UNKNOWN, self.name, detail)


class _Run:
    """One kernel check: every case, dtype and device, old and new and oracle."""

    def __init__(self, name: str, obligation: Obligation, context: Context, plan: Plan) -> None:
        self.name, self.obligation, self.context, self.plan = name, obligation, context, plan
        self.executor = context.executor
        self.tally = _report.Tally()
        self.pids: dict[str, set[str]] = {"old": set(), "new": set()}
        self.last: tuple[Case, dict[str, Any]] | None = None
        # The mode being compared (``_variants``), named in every message about a call.
        self.variant: _modes.Variant | None = None
        self.timing: dict[tuple[str, str], float] = {}
        # The oracle's facts at the first dtype, from ``_substitute`` (index -> facts), used once by ``_sweep``;
        # and the substitutes tried in vain for a case, named in its skip reason.
        self.probed: dict[int, dict[str, Any]] = {}
        self.tried: dict[int, str] = {}

    def evidence(self) -> Evidence:
        devices, versions = self._prepare()
        self._search()
        self._substitute()
        for number, dtype in enumerate(self.plan.spec.dtypes):
            oracles: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
            for device in devices:
                self._sweep(dtype, device, oracles, modes=number == 0)
        passed = self._passed(devices, versions)
        unreached = self._unreached(devices)
        if unreached and passed.level is Level.PASSED:
            return self._never_run(unreached, devices, passed)
        if passed.level is Level.PASSED:
            return self._covered(passed)
        return passed

    def _covered(self, passed: Evidence) -> Evidence:
        """PASSED only if every mined threshold was compared and every condition the patch adds taken both ways."""
        target = self.obligation.target
        lines, never = _threshold_cases.report(self.plan.thresholds, [c for c, _, _ in self.tally.compared],
                                               self.tally.rejected)
        # A threshold with no case at all (a sign test no scaling crosses) is left to the coverage below.
        generated = {getattr(c, "threshold", None) for c in self.plan.cases}
        never = [name for name in never if name in generated]
        if never:
            return Evidence(Level.UNKNOWN, self.name, f"{target}: no input on either side of the threshold "
                            f"{never[0]} was in the old kernel's domain, so its branch was never compared; state "
                            f"inputs crossing it with kernel('{target}', make_inputs=...)\n{passed.detail}")
        specs = [self._spec(case, dtype, device) for case, dtype, device in self.tally.compared]
        covered = _coverage.measure(self.obligation, self.context, self.plan.target.partition(":")[2], specs,
                                    lambda spec: self.executor.call("new", f"{HARNESS}:cover", (spec,), {}))  # type: ignore[union-attr]
        if covered is not None and not covered.complete:
            return Evidence(Level.UNKNOWN, self.name, covered.why_unknown(target, self.tally.evaluated)
                            + f"\n{passed.detail}")
        extra = ([f"thresholds mined from the old and new kernel ({len(lines)}):", *[f"  {line}" for line in lines]]
                 if lines else [])
        if self.plan.extra_dtypes:
            extra.append(f"dtypes {', '.join(self.plan.extra_dtypes)} added: the kernels compare against them")
        if covered is not None:
            extra.append(covered.summary())
        return Evidence(Level.PASSED, self.name, "\n".join([passed.detail, *extra]))

    def _search(self) -> None:
        """When the old kernel rejects planned shapes, try the plan's alternative shapings on a few cases.

        The probe is the oracle's own call (old kernel, float64, cpu) on one case per
        rank; an alternative replaces the plan's generated cases only if the old
        kernel accepts more of the probed ones, so at most a handful of extra calls.
        """
        if not self.plan.alternatives:
            return
        generated = [c for c in self.plan.cases if not c.threshold]
        sample = _probes(generated)
        best, score = None, self._accepted(generated, sample)
        for alternative in self.plan.alternatives:
            if score == len(sample):
                break
            accepted = self._accepted(list(alternative.cases), sample)
            if accepted > score:
                best, score = alternative, accepted
        if best is not None:
            self.plan = replace(self.plan, cases=[*best.cases, *(c for c in self.plan.cases if c.threshold)],
                                shaping=f"{best.name}, accepted by the old kernel on {score} of {len(sample)} "
                                f"probed shapes", substitutes=best.substitutes)

    def _substitute(self) -> None:
        """Each generated case outside the old kernel's domain replaced by the first substitute it accepts.

        The test is the oracle's own call (old kernel, float64, cpu, first dtype), kept
        for the sweep, so a case the old kernel accepts costs no extra call and one it
        rejects at most the plan's few substitutes (``_inputs.substitutes``): other
        ranks, the same seed, layout and magnitude.  Threshold and declared cases are
        never substituted.
        """
        if self.plan.substitutes is None:
            return
        dtype, found = self.plan.spec.dtypes[0], list(self.plan.cases)
        for index, case in enumerate(found):
            if case.threshold:
                continue
            self.probed[index] = facts = self._oracle(case, dtype)
            if "error" not in facts:
                continue
            others = self.plan.substitutes(case)
            for other in others:
                accepted = self._oracle(other, dtype)
                if "error" not in accepted:
                    found[index], self.probed[index] = other, accepted
                    self.tally.substituted.append((other, f"{case.label}: {_raised(facts)}"))
                    break
            else:
                self.tried[index] = (f"; substitutes tried: {', '.join(o.label for o in others)}" if others
                                     else "; no substitute shape for it")
        self.plan = replace(self.plan, cases=found)

    def _oracle(self, case: Case, dtype: str) -> dict[str, Any]:
        return self._facts("old", case.at(dtype), "float64", "cpu").value

    def _accepted(self, found: list[Case], sample: list[int]) -> int:
        dtype = self.plan.spec.dtypes[0]
        return sum("error" not in self._facts("old", found[i].at(dtype), "float64", "cpu").value for i in sample)

    def _prepare(self) -> tuple[list[str], dict[str, str]]:
        request = {"framework": self.plan.framework, "target": self.plan.target}
        # Both workers import torch or jax (seconds each) at once.
        with ThreadPoolExecutor(max_workers=2) as pool:
            pending = [pool.submit(self._start, side, request) for side in ("old", "new")]
            old, new = (future.result() for future in pending)
        self._separate(old.value, new.value)
        devices = [d for d in old.value.get("devices", ["cpu"]) if d in new.value.get("devices", [])] or ["cpu"]
        return devices, dict(old.value.get("versions", {}))

    def _start(self, side: str, request: dict[str, Any]) -> Outcome:
        """``prepare`` on ``side``: a start-up, not a kernel call, so no death of it is a verdict on the patch.

        Importing torch or jax takes seconds and more on a loaded machine; a worker
        that dies doing it is retried once (``warm`` retries by itself) and then the
        check is UNKNOWN with the reason.  Only the audit hook and the module watch,
        which no load trips, keep their VIOLATION.
        """
        warm = getattr(self.executor, "warm", None)
        start = warm or self.executor.call  # type: ignore[union-attr]
        outcome = start(side, f"{HARNESS}:prepare", (request,), {})
        if outcome.kind is OutcomeKind.DIED and warm is None:
            outcome = start(side, f"{HARNESS}:prepare", (request,), {})
        if outcome.kind is OutcomeKind.DIED and not (side == "new" and outcome.error_type in ("audit", "mutation")):
            tries = "once by the executor's start-up" if warm is not None else "twice"
            raise _Stop(Evidence(Level.UNKNOWN, self.name, f"{self.obligation.target}: the worker could not start: "
                                 f"preparing {self.plan.framework} in the {side} worker took {outcome.seconds:.1f} s "
                                 f"and died ({outcome.error_type}: {outcome.message[:300]}), tried {tries}; this is "
                                 "the machine's load or set-up, not a verdict on the patch: rerun the check on an "
                                 "idle machine, or with a longer worker start-up budget"))
        if outcome.kind is OutcomeKind.DIED:
            self._died(side, outcome, None, "", "", "prepare")
        return self._judged(side, "prepare", outcome, None, "", "")

    def _sweep(self, dtype: str, device: str, oracles: dict[int, tuple[dict[str, Any], dict[str, Any]]],
               modes: bool = False) -> None:
        old_runs, new_runs, cases_run = [], [], []
        chosen = _modes.selected(self.plan.cases) if modes else set()
        for index, raw in enumerate(self.plan.cases):
            if index not in oracles:
                probed = self.probed.pop(index, None) if dtype == self.plan.spec.dtypes[0] else None
                case = raw.at(dtype)
                oracles[index] = (self._oracle(raw, dtype) if probed is None else probed,
                                  self._facts("old", case.perturbed(dtype), "float64", "cpu").value)
        grad_scales = _gradient_scales(self.plan.cases, oracles)
        for index, raw in enumerate(self.plan.cases):
            case = raw.at(dtype)
            oracle, perturbed = oracles[index]
            old = self._facts("old", case, dtype, device).value
            if "error" in oracle or "error" in old:
                bad = oracle if "error" in oracle else old
                self.tally.skipped.append(f"{case.label}: old kernel {_raised(bad)}{self.tried.get(index, '')}")
                self.tally.rejected.append(case)
                continue
            new = self._facts("new", case, dtype, device).value
            self._separate(old, new)
            if "error" in new:
                err = new["error"]
                self._refute(case, dtype, device, f"the new kernel raised {err['type']} ({err['stage']}): "
                             f"{err['message'][:200]} where the old kernel returned", "returned",
                             f"raised {err['type']}")
            stale = _checks.cached(old_runs + [old], new_runs + [new])
            if stale is not None:
                earlier = cases_run[stale[0]]
                self._refute(case, dtype, device, f"[{_checks.CACHED}] the new kernel returned exactly the output "
                             f"it gave for different inputs ({earlier.label}, case seed {earlier.seed}): a stale "
                             "result", "a different output", "the earlier output again")
            failures, stats = _checks.judge(oracle, old, new, dtype=dtype, eps=eps(dtype),
                                            factor=self.plan.spec.factor, ulps=self.plan.spec.ulps,
                                            perturbed=perturbed,
                                            grad_scale=grad_scales[case.magnitude] * _amplitude(case))
            if failures:
                first = failures[0]
                self._refute(case, dtype, device, f"[{first.check}] {first.message}", first.old, first.new)
            self._count(case, stats)
            self.tally.compared.append((case, dtype, device))
            self.tally.notes.update(_checks.layout_notes(old["outputs"], new["outputs"]))
            self._trajectory(raw, dtype, device, old)
            old_runs.append(old)
            new_runs.append(new)
            cases_run.append(case)
            self.last = (case, old)
            self.tally.ran["old"].update(_devices_of(old))
            self.tally.ran["new"].update(_devices_of(new))
            if index in chosen:
                # Numbered among the chosen cases, so that consecutive ones alternate the thread counts.
                self._variants(case, dtype, device, oracle, perturbed, len(chosen & set(range(index))))

    def _variants(self, case: Case, dtype: str, device: str, oracle: dict[str, Any], perturbed: dict[str, Any],
                  number: int) -> None:
        """The forward pass again in each run-time mode and thread count (``_modes``), judged like the plain one."""
        forward, moved = ({k: v for k, v in facts.items() if k not in ("grads", "grad_outputs")}
                          for facts in (oracle, perturbed))
        for variant in _modes.variants(self.plan.framework, number):
            self.variant = variant
            old = self._facts("old", case, dtype, device, variant.spec()).value
            if "error" in old:
                self.tally.mode_skipped.append(f"{case.label} {variant.text}: the old kernel raised "
                                               f"{old['error']['type']}: {old['error']['message'][:120]}")
                continue
            new = self._facts("new", case, dtype, device, variant.spec()).value
            self._separate(old, new)
            if "error" in new:
                err = new["error"]
                self._refute(case, dtype, device, f"[{_checks.MODES}] {variant.text}, the new kernel raised "
                             f"{err['type']} ({err['stage']}): {err['message'][:200]} where the old kernel returned",
                             "returned", f"raised {err['type']}")
            failures, stats = _checks.judge(forward, old, new, dtype=dtype, eps=eps(dtype),
                                            factor=self.plan.spec.factor, ulps=self.plan.spec.ulps, perturbed=moved)
            if failures:
                first = failures[0]
                self._refute(case, dtype, device, f"[{_checks.MODES}] {variant.text}: [{first.check}] "
                             f"{first.message}", first.old, first.new)
            self.tally.stats += stats
            self.tally.mode_runs.append(variant)
        self.variant = None

    def _count(self, case: Case, stats: list[Stats]) -> None:
        self.tally.evaluated += 1
        self.tally.stats += stats
        self.tally.shapes.add(case.shapes)
        self.tally.seeds.add(case.seed)
        self.tally.layouts.add(case.layout or "contiguous")

    def _trajectory(self, raw: Case, dtype: str, device: str, old_facts: dict[str, Any]) -> None:
        """Stateful kernels: ``spec.steps`` calls in a row, state carried, judged after each (see ``_steps``)."""
        spec = self.plan.spec
        persist = sorted(u["path"] for u in old_facts.get("updated") or ())
        carry = _steps.carry_paths(spec.carry)
        if spec.steps < 2 or not (persist or carry):
            return
        later = _steps.later_steps(raw, spec.steps)
        case, rest = raw.at(dtype), [c.at(dtype) for c in later]
        carried = {"persist": persist, "carry": carry}
        oracle = self._run_steps("old", case, rest, "float64", "cpu", carried)
        old = self._run_steps("old", case, rest, dtype, device, carried)
        self.tally.stateful = True
        if "error" in oracle or "error" in old:
            bad = oracle if "error" in oracle else old
            if bad["error"]["stage"] == "carry":
                raise _Stop(Evidence(Level.UNKNOWN, self.name, f"{self.obligation.target}: kernel(carry=...) does "
                                     f"not fit the old kernel: {bad['error']['message']}; name outputs by tuple "
                                     "index, dict key, or None for the whole output"))
            self.tally.skipped.append(f"{case.label}: {spec.steps} steps: the old kernel raised "
                                      f"{bad['error']['type']} at step {bad['error'].get('step', 0) + 1}: "
                                      f"{bad['error']['message'][:120]}")
            return
        moved = self._run_steps("old", case.perturbed(dtype), [c.perturbed(dtype) for c in rest], "float64", "cpu",
                            carried)
        new = self._run_steps("new", case, rest, dtype, device, carried)
        self._separate(old, new)
        if "error" in new:
            err = new["error"]
            self._refute(case, dtype, device, f"[{_checks.STEPS}] the new kernel raised {err['type']} at step "
                         f"{err.get('step', 0) + 1} of {spec.steps} ({err['stage']}): {err['message'][:200]} where "
                         "the old kernel completed every step", "completed", f"raised {err['type']}")
        failures, stats = _steps.judge(oracle, old, new, moved, dtype=dtype, eps=eps(dtype), factor=spec.factor,
                                       ulps=spec.ulps)
        if failures:
            first = failures[0]
            self._refute(case, dtype, device, f"[{first.check}] {first.message}", first.old, first.new)
        self.tally.stats += stats
        self.tally.trajectories += 1

    # -- calls ---------------------------------------------------------------------------------

    def _run_steps(self, side: str, case: Case, rest: list[Case], dtype: str, device: str,
               carried: dict[str, Any]) -> dict[str, Any]:
        spec = {**self._spec(case, dtype, device), **carried,
                "steps": [{"args": list(c.args), "kwargs": dict(c.kwargs)} for c in rest]}
        facts = self._call(side, "steps", spec, case, dtype, device).value
        if not isinstance(facts.get("pid"), str) or not (isinstance(facts.get("steps"), list) or "error" in facts):
            self._broken(side, case, dtype, device, "returned malformed step facts")
        return facts

    def _spec(self, case: Case, dtype: str, device: str) -> dict[str, Any]:
        spec = {"framework": self.plan.framework, "target": self.plan.target, "dtype": dtype, "device": device,
                "args": list(case.args), "kwargs": dict(case.kwargs), "grad": self.plan.spec.grad,
                "weight_seed": case.seed + 7919 * self.context.seed}
        if self.plan.module is not None:
            spec["module"] = {**self.plan.module, "init": {**self.plan.module["init"], **dict(case.init)}}
        return spec

    def _facts(self, side: str, case: Case, dtype: str, device: str, extra: dict[str, Any] | None = None) -> Outcome:
        outcome = self._call(side, "run", {**self._spec(case, dtype, device), **(extra or {})}, case, dtype, device)
        if not _well_formed(outcome.value):
            self._broken(side, case, dtype, device, "returned malformed facts")
        return outcome

    def _call(self, side: str, function: str, spec: dict[str, Any], case: Case | None = None,
              dtype: str = "", device: str = "") -> Outcome:
        outcome = self.executor.call(side, f"{HARNESS}:{function}", (spec,), {})  # type: ignore[union-attr]
        if outcome.kind is OutcomeKind.DIED:
            self._died(side, outcome, case, dtype, device, function)
        return self._judged(side, function, outcome, case, dtype, device)

    def _judged(self, side: str, function: str, outcome: Outcome, case: Case | None, dtype: str,
                device: str) -> Outcome:
        if outcome.kind is OutcomeKind.RETURNED and side == "old":
            self.timing[(function, self._call_text(case, dtype, device))] = outcome.seconds
        if outcome.kind is OutcomeKind.RAISED:
            self._broken(side, case, dtype, device, f"raised {outcome.error_type}: {outcome.message[:300]}")
        if not isinstance(outcome.value, dict):
            self._broken(side, case, dtype, device, "returned something other than a dict of facts")
        return outcome

    def _died(self, side: str, outcome: Outcome, case: Case | None, dtype: str, device: str,
              function: str = "run") -> None:
        reason, where = outcome.error_type, self._where(case, dtype, device)
        if side == "new" and reason in ("audit", "mutation"):
            raise _Stop(Evidence(Level.VIOLATION, self.name, f"{self.obligation.target}: the new kernel "
                                 f"{'tripped the worker audit hook' if reason == 'audit' else 'monkeypatched shared modules'}"
                                 f" {where}: {outcome.message}", counterexample=self._cex(case, dtype, device,
                                                                                        "", f"died ({reason})")))
        if side == "new" and reason in _SLOW_DEATHS:
            self._slow(outcome, case, dtype, device, function)
        if side == "new" and reason in _REFUTING_DEATHS:
            self._refute(case, dtype, device, f"the new kernel's worker died ({reason}: {outcome.message[:200]}) "
                         "where the old one did not", "returned", f"died ({reason})")
        raise _Stop(Evidence(Level.UNKNOWN, self.name, f"{self.obligation.target}: the worker running the {side} "
                             f"kernel died ({reason}: {outcome.message[:300]}) {where}, so the gate cannot compare"))

    def _slow(self, outcome: Outcome, case: Case | None, dtype: str, device: str, function: str) -> None:
        """A new kernel that ran out of time: REFUTED if the old one did the same call in a quarter of it."""
        old = self.timing.get((function, self._call_text(case, dtype, device)))
        if old is not None and finished_well_within(old, outcome.seconds):
            self._refute(case, dtype, device, f"the new kernel's worker died ({outcome.error_type}: "
                         f"{outcome.message[:200]}) after {outcome.seconds:.1f} s, where the old kernel finished "
                         f"the same call in {old:.2f} s", f"returned in {old:.2f} s",
                         f"died ({outcome.error_type}) after {outcome.seconds:.1f} s")
        took = "was not run on it" if old is None else f"took {old:.2f} s, more than a quarter of that"
        raise _Stop(Evidence(Level.UNKNOWN, self.name, f"{self.obligation.target}: the new kernel's worker died "
                             f"({outcome.error_type}: {outcome.message[:200]}) after {outcome.seconds:.1f} s "
                             f"{self._where(case, dtype, device)}; the old kernel {took}, so a loaded machine cannot "
                             "be ruled out: rerun on an idle machine or with a longer call timeout"))

    def _broken(self, side: str, case: Case | None, dtype: str, device: str, what: str) -> None:
        where = self._where(case, dtype, device)
        if side == "new":
            self._refute(case, dtype, device, f"the numeric harness in the new worker {what} {where}; the old "
                         "worker's did not, so the new code interfered with it", "facts", what)
        raise _Stop(Evidence(Level.UNKNOWN, self.name, f"{self.obligation.target}: the numeric harness in the old "
                             f"worker {what} {where}; the old code cannot be run as a kernel. "
                             + _report.how(self.obligation.target)))

    def _separate(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.pids["old"].add(old.get("pid"))
        self.pids["new"].add(new.get("pid"))
        if self.pids["old"] & self.pids["new"]:
            raise _Stop(Evidence(Level.UNKNOWN, self.name, f"{self.obligation.target}: [{_checks.SEPARATE}] old "
                                 "and new reported the same worker process; refusing to compare"))

    # -- evidence --------------------------------------------------------------------------------

    def _unreached(self, devices: list[str]) -> list[_devices.Branch]:
        qualname = self.plan.target.partition(":")[2]
        found = [branch for side, files in (("old", self.context.before), ("new", self.context.after))
                 for branch in _devices.branches(side, files.get(self.obligation.path) or "", qualname)]
        return _devices.unreached(found, devices)

    def _never_run(self, unreached: list[_devices.Branch], devices: list[str], passed: Evidence) -> Evidence:
        """UNKNOWN: a device path neither worker could take; what did run is kept below the reason."""
        first = unreached[0]
        more = f" (and {len(unreached) - 1} more device test(s))" if len(unreached) > 1 else ""
        return Evidence(Level.UNKNOWN, self.name, f"{self.obligation.target}: the {first.device} path of "
                        f"{first.definition} (line {first.line} of the {first.side} {self.obligation.path}: "
                        f"`{first.text}`){more} was never executed here: no {first.device} device (the workers "
                        f"have {', '.join(devices)}); run `make gpu-check` on a GPU machine. What ran here agreed:\n"
                        + passed.detail)

    def _where(self, case: Case | None, dtype: str, device: str) -> str:
        return f"on {self._call_text(case, dtype, device)}" if case is not None else "while importing the kernel"

    def _call_text(self, case: Case | None, dtype: str, device: str) -> str:
        if case is None:
            return f"{self.obligation.target} (import)"
        extra = f", {_MAGNITUDES[case.magnitude]}" if case.magnitude in _MAGNITUDES else ""
        if case.replaces:
            extra += f", substituted for the generated case {case.replaces}, outside the old kernel's domain"
        mode = f" {self.variant.label}" if self.variant is not None else ""
        return (f"{self.obligation.target}({case.label}) dtype={dtype} device={device}{mode} case seed={case.seed}"
                f"{extra}")

    def _cex(self, case: Case | None, dtype: str, device: str, old: str, new: str) -> Counterexample:
        return Counterexample(self._call_text(case, dtype, device), old, new,
                              f"sandbox check ... --seed {self.context.seed}")

    def _refute(self, case: Case | None, dtype: str, device: str, message: str, old: str, new: str) -> None:
        large = case is not None and case.magnitude == "large"
        tag = f" [{_checks.LARGE}: fails only at |x| in [{LARGE[0]:g}, {LARGE[1]:g}]]" if large else ""
        raise _Stop(Evidence(Level.REFUTED, self.name, f"{self.obligation.target}: {message}{tag} on "
                             f"{self._call_text(case, dtype, device)}; replay with seed {self.context.seed}",
                             counterexample=self._cex(case, dtype, device, old, new)))

    def _passed(self, devices: list[str], versions: dict[str, str]) -> Evidence:
        tally = self.tally
        runs = len(self.plan.spec.dtypes) * len(devices)
        if tally.evaluated == 0:
            first = tally.skipped[0] if tally.skipped else "no cases"
            return Evidence(Level.UNKNOWN, self.name, f"{self.obligation.target}: no generated input is in the old "
                            f"kernel's domain ({_report.counts(tally, runs)}; first: {first}); "
                            + _report.how(self.obligation.target))
        if tally.stateful and not tally.trajectories:
            return Evidence(Level.UNKNOWN, self.name, f"{self.obligation.target}: the kernel carries state, but no "
                            f"run of {self.plan.spec.steps} steps completed in the old kernel (first: "
                            f"{tally.skipped[-1]}); " + _report.how(self.obligation.target))
        ran, planned = tally.generated()
        if self.plan.spec.make_inputs is None and ran < planned:
            # Strict: a case the gate planned and did not compare is a shape nobody looked at.
            shaping = self.plan.shaping or "each tensor at the case shape"
            return Evidence(Level.UNKNOWN, self.name, f"{self.obligation.target}: {_report.counts(tally, runs)}; "
                            f"the rest were outside the old kernel's domain, with no substitute at another rank it "
                            f"accepted ({shaping}; first skipped: {tally.skipped[0]}), so those shapes were never "
                            "compared and the two kernels cannot be called equivalent; "
                            + _report.how(self.obligation.target))
        lines = _report.lines(self.obligation.target, tally, self.plan, devices, versions, self.pids,
                              self.context.seed, self.last)
        return Evidence(Level.PASSED, self.name, "\n".join(lines))


def _raised(facts: dict[str, Any]) -> str:
    return f"raised {facts['error']['type']}: {facts['error']['message'][:120]}"


def _probes(found: list[Case]) -> list[int]:
    """One plain case per rank of the first input, the largest of that rank: the shapes a search must fit."""
    best: dict[int, int] = {}
    for index, case in enumerate(found):
        if case.layout is None and case.magnitude == "normal" and case.shapes:
            rank, size = len(case.shapes[0]), int(np.prod(case.shapes[0]))
            if rank not in best or size > int(np.prod(found[best[rank]].shapes[0])):
                best[rank] = index
    return sorted(best.values())


def _devices_of(facts: dict[str, Any]) -> set[str]:
    return {str(o.get("device")) for o in facts.get("outputs", []) if o.get("tensor")}


def _gradient_scales(found: list[Case], oracles: dict[int, tuple[dict[str, Any], Any]]) -> dict[str, float]:
    """The gradient floor's scale per magnitude class: the class's largest oracle gradient, at least the normal one's.

    Per class, because a small-magnitude case of a norm has gradients ~1/sqrt(eps) that
    would otherwise loosen every other case's floor (see ``_checks.gradient_scale``).
    """
    by_class: dict[str, list[dict[str, Any]]] = {}
    for index, case in enumerate(found):
        by_class.setdefault(case.magnitude, []).append(oracles[index][0])
    normal = _checks.gradient_scale(by_class.get("normal", []))
    return {magnitude: max(normal, _checks.gradient_scale(group)) for magnitude, group in by_class.items()}


def _amplitude(case: Case) -> float:
    """How much larger than unit scale the inputs of an off-normal (large or wide) case are.

    At |x| ~ 100 the intermediates a gradient cancels (attention logits, squares in a
    norm) are that much larger, and so is their absolute rounding: a saturated softmax's
    true d/dq is 0, while a fused backward that recomputes it from a logsumexp leaves
    eps x |logits| x |k| of noise.  The gradient floor grows with the inputs so that
    this noise is not taken for an error; a gradient that is wrong, not just rounded,
    is off by its own size and still fails.
    """
    if case.magnitude in ("normal", "small") or case.magnitude.startswith("scaled:"):
        return 1.0  # a case scaled past a magnitude threshold has a gradient class of its own
    values = [np.max(np.abs(a["array"]), initial=0.0) for a in [*case.args, *(v for _, v in case.kwargs)]
              if a.get("float") and isinstance(a.get("array"), np.ndarray)]
    return max(1.0, *values) if values else 1.0


def _well_formed(facts: Any) -> bool:
    if not isinstance(facts, dict) or not isinstance(facts.get("pid"), str):
        return False
    if "error" in facts:
        return isinstance(facts["error"], dict) and {"type", "message", "stage"} <= facts["error"].keys()
    keys = {"outputs": list, "inputs": list, "aliases": list, "repeat": list}
    return all(isinstance(facts.get(k), t) for k, t in keys.items()) and all(
        isinstance(o, dict) and "path" in o and "tensor" in o for o in facts["outputs"])
