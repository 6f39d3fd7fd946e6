"""The gate: patch -> change set -> obligations -> evidence -> verdict -> apply -> ledger."""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import getpass
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import verifiers
from properties import DEFAULT_PROTECTED, Forbid, Obligation, Policy, Property, Protected
from verifiers import Context, Evidence, Executor, Level

from sandbox._apply import FileWrite, apply_atomically, pending, recover
from sandbox._changes import analyse
from sandbox._config import Config, load_config
from sandbox._errors import ApplyError, GateError
from sandbox._ledger import Ledger, LedgerEntry
from sandbox._loader import load_properties
from sandbox._patch import Patch
from sandbox._planner import plan
from sandbox._verdict import DEFERRED, NOT_RUN, Certificate, CheckerVote, Judgement, Progress, Verdict, sha256
from sandbox.cache import CheckKey, VerdictCache, default_dir, tree_digest

__all__ = ["Gate", "open_state", "recover_interrupted"]


class Gate:
    """Decides whether a patch to one repository is safe, and applies it only if so.

    >>> gate = Gate.from_repo("path/to/repo")          # doctest: +SKIP
    >>> verdict = gate.check(Patch.from_diff(text))      # doctest: +SKIP
    >>> if verdict.accepted: gate.apply(verdict)         # doctest: +SKIP
    """

    def __init__(self, root: Path, config: Config, properties: Sequence[Property], properties_digest: str,
                 *, worker_tree: Path | None = None, cache: VerdictCache | None = None) -> None:
        self.root = root
        # Where the workers copy the rest of the repository from (``--base`` checks read the
        # touched files from a base export but run code against the full work tree).
        self.worker_tree = worker_tree or root
        self.config = config
        self.properties = tuple(properties)
        self._properties_digest = properties_digest
        # Evidence memoised by content (``sandbox.cache``); ``None`` works everything out afresh.
        self.cache = cache
        self.policy = _policy(config, self.properties, _local_modules(self.worker_tree))

    @classmethod
    def from_repo(cls, path: str | os.PathLike[str], *, worker_tree: Path | None = None,
                  cache: VerdictCache | str | os.PathLike[str] | bool | None = None, **overrides: Any) -> "Gate":
        """Read ``[tool.sandbox]`` and the property files of the repository at ``path``.

        Keyword arguments (``require``, ``seed``, ``jobs``, ``timeout``) override the configuration.
        ``cache`` memoises evidence: a ``VerdictCache``, a directory, or ``True`` for the default
        directory (``sandbox.cache.default_dir()``, outside the repository); off by default.
        """
        root = Path(path).resolve()
        if not root.is_dir():
            raise GateError(f"{path}: not a directory; pass the repository root (--repo DIR)")
        config = load_config(root).with_overrides(**overrides)
        properties = load_properties(root, config.properties)
        digest = hashlib.sha256()
        for name in config.properties:
            if (root / name).is_file():
                digest.update(name.encode() + b"\0" + (root / name).read_bytes())
        return cls(root, config, properties, digest.hexdigest(), worker_tree=worker_tree, cache=_cache(cache))

    @property
    def state_dir(self) -> Path:
        return self.root / self.config.ledger

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.state_dir)

    def check(self, patch: Patch, *, replay: str | None = None, fail_fast: bool = False,
              progress: Callable[[Progress], None] | None = None) -> Verdict:
        """Judge ``patch`` against the tree as it is now.  Writes nothing, anywhere in the repository.

        ``replay`` is the command that reproduces this check (the CLI passes its own); it is
        shown with every counterexample.  ``fail_fast`` stops at the first obligation not met:
        the ones not started are reported as not run, and the verdict is a rejection.
        ``progress`` is called as each obligation starts and ends (from the gate's threads).
        """
        started = time.perf_counter()
        if pending(self.state_dir):
            raise GateError(
                f"{self.state_dir}: an interrupted apply is pending, so the tree may be half-written; "
                "run `sandbox recover` (or any `sandbox apply`) to complete or roll it back first"
            )
        files = patch.resolve(self.root, limits=self.config.limits)
        changes = analyse(files)
        before = {f.path: f.before_text for f in files if f.before_text is not None}
        after = {f.path: f.after_text for f in files if f.after_text is not None}
        planned = plan(changes, self.properties, self.config, self.policy, before, after, root=self.worker_tree)
        key = self._check_key(before, after)
        with self._executor(planned.obligations, before, after) as executor:
            context = Context(before, after, self.policy, seed=self.config.seed, timeout=self.config.timeout,
                              executor=executor, max_examples=self.config.max_examples,
                              slowdown=self.config.slowdown, memory=self.config.memory)
            outcomes = _with_replay(self._discharge(planned.obligations, context, fail_fast, progress, key),
                                    replay or f"Gate.from_repo({str(self.root)!r}, seed={self.config.seed}).check(patch)")
            isolation = executor.isolation if executor is not None else ""
            deaths = tuple(executor.deaths) if executor is not None else ()
        votes = self._quorum(planned.obligations, before, after) if all(o.ok for o in outcomes) else ()
        need = int(self.config.quorum.get("need", 0))
        certificate = Certificate(
            patch.digest,
            tuple((f.path, sha256(f.before)) for f in files),
            tuple((f.path, sha256(f.after)) for f in files),
            self.config.digest,
            self._properties_digest,
        )
        return Verdict(
            accepted=all(o.ok for o in outcomes) and sum(v.accepted for v in votes) >= need,
            repo=str(self.root),
            outcomes=outcomes,
            changes=changes,
            files=files,
            unchecked=planned.unchecked,
            certificate=certificate,
            require=self.config.require,
            seed=self.config.seed,
            seconds=time.perf_counter() - started,
            isolation=isolation,
            worker_deaths=deaths,
            sealed=(*self.config.properties, "pyproject.toml", f"{self.config.ledger.rstrip('/')}/**"),
            quorum=votes,
            quorum_need=need,
        )

    def _quorum(self, obligations: Sequence[Obligation], before: dict[str, str],
                after: dict[str, str]) -> tuple[CheckerVote, ...]:
        """``[tool.sandbox] quorum``: each named checker judges on its own, in its own workers.

        Run only once the usual route has met every obligation: a rejection needs no second opinion.
        """
        if not self.config.quorum:
            return ()
        from sandbox.attest._quorum import run_quorum

        return run_quorum(self, obligations, before, after)

    @contextlib.contextmanager
    def _executor(self, obligations: Sequence[Obligation], before: dict[str, str],
                  after: dict[str, str]) -> Iterator[Executor | None]:
        """Isolated workers, only when a registered verifier on some route runs code.

        The workers start at once, in the background, while the policy scan and the prover
        work in this thread; the first call that needs one waits for its start to finish.
        """
        # Registered is enough: instantiating the verifiers here would import hypothesis and
        # CrossHair for a check the prover settles on its own.
        wanted = {name for o in obligations for name in o.route} & _EXECUTING
        if not wanted & set(verifiers.available()):
            yield None
            return
        from sandbox._workers import IsolatedExecutor

        executor = IsolatedExecutor(self.worker_tree, before, after, timeout=self.config.call_timeout,
                                    memory_mb=self.config.memory_mb, strict=self.config.isolation == "strict")
        executor.prestart()
        try:
            yield executor
        finally:
            executor.close()

    def record(self, verdict: Verdict, **extra: Any) -> LedgerEntry:
        """Append ``verdict`` to the ledger (``sandbox apply`` records every verdict it reaches)."""
        return self.ledger.append("verdict", {**_ledger_record(verdict), **extra})

    def apply(self, verdict: Verdict, *, approved_by: str | None = None) -> LedgerEntry:
        """Write exactly the verified bytes, atomically, and record verdict and apply in the ledger.

        Refuses a rejected verdict, a verdict for another repository, a tree that changed since
        the check (``StaleTreeError``), and a change the ``apply`` mode reserves for a person.
        """
        self._may_apply(verdict, approved_by)
        self.recover()
        self.record(verdict)
        writes = [FileWrite(f.path, sha256(f.before), f.after) for f in verdict.files]
        apply_atomically(self.root, writes, state_dir=self.state_dir)
        approver = approved_by or f"the gate (apply = {self.config.apply!r})"
        return self.ledger.append("apply", {
            "certificate": verdict.certificate.to_json(), "approved_by": approver,
            "user": _user(), "files": [w.path for w in writes],
        })

    def check_many(self, patches: Any, **options: Any) -> Any:
        """Check a batch of candidates: deduplicated, cheap stages first, on a process pool or Ray
        (``sandbox.batch.check_many``); yields one result per candidate as it is decided."""
        from sandbox.batch import check_many

        return check_many(self, patches, **options)

    def improve(self, proposer: Any, **options: Any) -> Any:
        """Run the verified self-improvement loop on this repository (``sandbox.loop.improve``)."""
        from sandbox.loop import improve

        return improve(self, proposer, **options)

    def recover(self) -> str | None:
        """Complete or roll back an interrupted apply, recording what happened."""
        return recover_interrupted(self.root, self.config)

    def _may_apply(self, verdict: Verdict, approved_by: str | None) -> None:
        if Path(verdict.repo) != self.root:
            raise ApplyError(f"the verdict is for {verdict.repo}, not {self.root}; check the patch against this repository")
        if not verdict.accepted:
            raise ApplyError("the verdict rejected the patch; only an accepted verdict can be applied")
        mode = self.config.apply
        if approved_by is None and (mode == "manual" or (mode == "proven" and not verdict.all_proven)):
            need = "every change" if mode == "manual" else "changes not proved in full"
            raise ApplyError(
                f"[tool.sandbox] apply = {mode!r} reserves {need} for a person: review the verdict and the "
                "diff, then run `sandbox apply PATCH --approve`"
            )

    def _check_key(self, before: dict[str, str], after: dict[str, str]) -> CheckKey | None:
        if self.cache is None:
            return None
        return CheckKey.of(tree=tree_digest(self.worker_tree, skip=(self.config.ledger,)),
                           config=_evidence_config(self.config), properties=self._properties_digest,
                           seed=self.config.seed, before=before, after=after)

    def _discharge(self, obligations: Sequence[Obligation], context: Context, fail_fast: bool = False,
                   progress: Callable[[Progress], None] | None = None,
                   key: CheckKey | None = None) -> tuple[Judgement, ...]:
        report = progress or (lambda step: None)
        total = len(obligations)

        def one(index: int, obligation: Obligation) -> Judgement:
            if obligation.kind.value in self.config.defer:
                return _deferred(obligation)
            report(Progress(index + 1, total, obligation))
            evidence, gave_up, cached = self._evidence(obligation, context, key)
            shown = bool(obligation.allowed_by) and not self._unchanged_required(obligation.target)
            judgement = Judgement(obligation, evidence, shown or self._meets(obligation, evidence.level), gave_up,
                                  informational=shown, cached=cached)
            report(Progress(index + 1, total, obligation, judgement))
            return judgement

        if self.config.jobs > 1 and total > 1:
            return _in_parallel(one, obligations, self.config.jobs, fail_fast)
        done: list[Judgement] = []
        for index, obligation in enumerate(obligations):
            if fail_fast and done and not done[-1].ok and not done[-1].deferred:
                done.append(_not_run(obligation))
                continue
            done.append(one(index, obligation))
        return tuple(done)

    def _evidence(self, obligation: Obligation, context: Context,
                  key: CheckKey | None) -> tuple[Evidence, tuple[str, ...], bool]:
        """From the cache when this very obligation was settled before, else from the route."""
        name = key.for_(obligation) if key is not None and self.cache is not None else None
        if name is not None:
            hit = self.cache.get(name)  # type: ignore[union-attr]
            if hit is not None:
                return hit.evidence, hit.gave_up, True
        evidence, gave_up = _run_route(obligation, context)
        if name is not None:
            self.cache.put(name, evidence, gave_up)  # type: ignore[union-attr]
        return evidence, gave_up, False

    def _unchanged_required(self, target: str) -> bool:
        """``--require unchanged`` (or ``[tool.sandbox] unchanged``) names ``target``: allowed changes reject."""
        return any(fnmatch.fnmatchcase(target, pattern) for pattern in self.config.unchanged)

    def _meets(self, obligation: Obligation, level: Level) -> bool:
        if obligation.kind.behavioural and self.config.require == "proven":
            return level is Level.PROVEN
        return level in (Level.PROVEN, Level.PASSED)


# Verifiers that run the code under check (the prover replays its counterexamples).
_EXECUTING = frozenset({"pbt", "smt", "crosshair", "numeric", "import"})


def open_state(path: str | os.PathLike[str]) -> tuple[Path, Config, Ledger]:
    """The repository root, its configuration and its ledger, without running the property files.

    ``sandbox log`` and ``sandbox recover`` use this, so a broken property file can never
    stand in the way of reading the ledger or repairing an interrupted apply.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise GateError(f"{path}: not a directory; pass the repository root (--repo DIR)")
    config = load_config(root)
    return root, config, Ledger(root / config.ledger)


def recover_interrupted(root: Path, config: Config) -> str | None:
    """Complete or roll back an interrupted apply in ``root`` and record the outcome in the ledger."""
    state_dir = root / config.ledger
    outcome = recover(root, state_dir)
    if outcome is not None:
        Ledger(state_dir).append("recover", {"outcome": outcome, "user": _user()})
    return outcome


def _in_parallel(one: Callable[[int, Obligation], Judgement], obligations: Sequence[Obligation], jobs: int,
                 fail_fast: bool) -> tuple[Judgement, ...]:
    """``one`` over ``obligations`` on ``jobs`` threads; with ``fail_fast`` the first obligation not
    met cancels every one not yet started (those already running finish and are reported)."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures: list[Future[Judgement]] = [pool.submit(one, i, o) for i, o in enumerate(obligations)]
        waiting = set(futures)
        while waiting and fail_fast:
            finished, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            if any(not f.cancelled() and f.exception() is None and not f.result().ok and not f.result().deferred
                   for f in finished):
                for future in waiting:
                    future.cancel()
                break
        return tuple(_not_run(o) if f.cancelled() else f.result() for f, o in zip(futures, obligations))


def _deferred(obligation: Obligation) -> Judgement:
    detail = DEFERRED.format(kind=obligation.kind.value)
    return Judgement(obligation, Evidence(Level.UNKNOWN, "none", detail), ok=False, ran=False, deferred=True)


def _not_run(obligation: Obligation) -> Judgement:
    return Judgement(obligation, Evidence(Level.UNKNOWN, "none", NOT_RUN), ok=False, ran=False)


def _with_replay(outcomes: tuple[Judgement, ...], command: str) -> tuple[Judgement, ...]:
    """Verifiers do not know how the gate was invoked; the gate fills in the replay command."""
    def fill(outcome: Judgement) -> Judgement:
        cex = outcome.evidence.counterexample
        if cex is None:
            return outcome
        evidence = dataclasses.replace(outcome.evidence, counterexample=dataclasses.replace(cex, replay=command))
        return dataclasses.replace(outcome, evidence=evidence)
    return tuple(fill(o) for o in outcomes)


def _run_route(obligation: Obligation, context: Context) -> tuple[Evidence, tuple[str, ...]]:
    """Ask each verifier on the route in turn; the first answer that is not UNKNOWN decides.

    Returns the evidence and what the verifiers before the deciding one said when giving up.
    """
    if not obligation.route:
        return Evidence(Level.UNKNOWN, "none", obligation.reason), ()
    unknowns: list[str] = []
    missing: list[str] = []
    for name in obligation.route:
        try:
            verifier = verifiers.get(name)
        except Exception as error:  # noqa: BLE001 - a broken verifier is UNKNOWN, never a pass
            unknowns.append(f"{name}: the verifier could not be loaded: {type(error).__name__}: {error}")
            continue
        if verifier is None:
            missing.append(name)
            continue
        evidence = verifier.check(obligation, context)
        if evidence.level is not Level.UNKNOWN:
            return evidence, tuple(unknowns)
        unknowns.append(f"{name}: {evidence.detail}")
    if missing:
        unknowns.append(_missing_message(obligation, missing))
    return Evidence(Level.UNKNOWN, "/".join(obligation.route), "; ".join(unknowns)), tuple(unknowns)


def _missing_message(obligation: Obligation, missing: list[str]) -> str:
    names = " or ".join(f"'{m}' ({verifiers.PLANNED.get(m, 'not registered')})" for m in missing)
    return (
        f"{obligation.kind.value} of {obligation.target} needs the {names} verifier, which this version does "
        "not provide yet, so the change cannot be shown safe; keep the change behaviour-free, or, for a "
        "constant, state bounds() so it can be checked"
    )


def _cache(cache: VerdictCache | str | os.PathLike[str] | bool | None) -> VerdictCache | None:
    if cache is None or cache is False:
        return None
    if cache is True:
        return VerdictCache(default_dir())
    return cache if isinstance(cache, VerdictCache) else VerdictCache(cache)


# Settings that decide whether evidence meets the requirement, not what the evidence is: a
# change to them must not cost a re-run (the judgement is made afresh on every check).
_NOT_EVIDENCE = frozenset({"require", "unchanged", "apply", "jobs", "ledger", "defer"})


def _evidence_config(config: Config) -> str:
    data = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in _NOT_EVIDENCE}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=list).encode()).hexdigest()


def _local_modules(root: Path) -> frozenset[str]:
    """The repository's top-level modules and packages (a ``src/`` layout included).

    One directory listing, not a walk: the cost does not grow with the repository.
    """
    names: set[str] = set()
    for base in (root, root / "src"):
        try:
            entries = list(base.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.suffix == ".py" and entry.stem.isidentifier():
                names.add(entry.stem)
            elif entry.is_dir() and entry.name.isidentifier() and any(entry.glob("*.py")):
                names.add(entry.name)
    return frozenset(names)


def _policy(config: Config, properties: Sequence[Property], local_modules: frozenset[str] = frozenset()) -> Policy:
    protected = [*DEFAULT_PROTECTED, *config.properties, f"{config.ledger.rstrip('/')}/**", *config.protected]
    forbidden: dict[str, str] = {}
    for prop in properties:
        if isinstance(prop, Protected):
            protected.extend(prop.patterns)
        elif isinstance(prop, Forbid):
            forbidden.update({name: prop.reason for name in prop.names})
    return Policy(tuple(dict.fromkeys(protected)), dict(config.allow), forbidden,
                  allow_calls=config.allow_calls, local_modules=local_modules)


def _ledger_record(verdict: Verdict) -> dict[str, Any]:
    report = verdict.to_json()
    keys = ("accepted", "require", "seed", "obligations", "violations", "certificate", "quorum", "review", "attestations")
    return {k: report[k] for k in keys if k in report}


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"
