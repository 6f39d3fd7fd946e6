"""Report formats of a verdict: text for people; json, sarif, junit and github for machines.

The text report opens with a summary that fits on one screen -- the verdict, what changed, and
per obligation the level reached and the verifier that decided it -- and then gives every detail
in full: nothing a verifier said is cut.  ``verbose`` splits each detail into its clauses (the
notes, the inputs' coverage) and shows why each verifier before the deciding one gave up.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import json
import threading
from collections.abc import Callable
from typing import IO

from properties import RULES, Kind, path_matches
from verifiers import Level

from sandbox._changes import ChangeKind
from sandbox._verdict import Judgement, Progress, Verdict, natural_key

__all__ = ["FORMATS", "diff_text", "progress_printer", "render", "render_text"]

_MARK = {ChangeKind.ADDED: "+", ChangeKind.REMOVED: "-", ChangeKind.MODIFIED: "~", ChangeKind.COSMETIC: "="}
_COLOUR = {Level.PROVEN: "32", Level.PASSED: "32", Level.UNKNOWN: "33", Level.REFUTED: "31", Level.VIOLATION: "31"}
_SUMMARY_ROWS = 12  # obligations listed in the summary; the rest are counted (all are in the details)
_SUMMARY_NAMES = 8  # changed definitions named per file in the summary
# Rules the report never suggests allowing: a symlink cannot be applied at all.
_NEVER_ALLOWED = frozenset({"symlink"})


def render(verdict: Verdict, fmt: str, *, colour: bool = False, verbose: bool = False) -> str:
    """The verdict in format ``fmt`` (one of ``FORMATS``)."""
    if fmt == "text":
        return render_text(verdict, colour=colour, verbose=verbose)
    return FORMATS[fmt](verdict)


def render_text(verdict: Verdict, *, colour: bool = False, verbose: bool = False) -> str:
    """The report a person reads: a one-screen summary, then every detail in full."""
    paint = (lambda text, code: f"\x1b[{code}m{text}\x1b[0m") if colour else (lambda text, code: text)
    lines = _summary(verdict, paint) + ["", "Details", ""] + _changed_section(verdict)
    lines += ["", "Checked"] + [line for o in _by_target(verdict.outcomes) for line in _checked(o, paint, verbose)]
    if not verdict.outcomes:
        lines.append("  nothing: no change with behavioural or policy obligations")
    if verdict.isolation:
        lines += ["", f"Untrusted code ran in isolated workers: {verdict.isolation}"]
        lines += [f"  worker died: {death}" for death in verdict.worker_deaths]
    if verdict.accepted:
        lines += ["", _accepted_line(verdict)]
    else:
        reasons = [line for o in verdict.failures if o.ran for line in _failure(o, verdict)]
        if not verdict.quorum_met:
            reasons.append(f"  x quorum not met: fewer than {verdict.quorum_need} independent checker(s) accepted "
                           "every obligation they judged (see Quorum above)")
        if (verdict.review or {}).get("decision") == "object":
            reasons.append("  x the reviewer model objected: " + "; ".join(verdict.review.get("reasons") or ()))
        lines += ["", "Why it was rejected", *reasons] if reasons else [""]
        if verdict.deferred:
            lines.append(f"  {len(verdict.deferred)} obligation(s) deferred (--defer): "
                         + ", ".join(o.obligation.target for o in _by_target(verdict.deferred)))
        if verdict.not_run:
            lines.append(f"  {len(verdict.not_run)} obligation(s) not run (--fail-fast): run without "
                         "--fail-fast to see them all")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------- summary


def _summary(verdict: Verdict, paint: Callable[[str, str], str]) -> list[str]:
    files = ", ".join(d.path for d in verdict.changes.files)
    status = (paint("ACCEPTED", "32;1") if verdict.accepted else
              paint("MET, SOME DEFERRED", "33;1") if verdict.met_except_deferred else paint("REJECTED", "31;1"))
    count = len(verdict.outcomes)
    lines = [f"sandbox check: {status}  ({files}; {count} obligation{'s' * (count != 1)}; {verdict.seconds:.2f} s)",
             "", f"Verdict: {_verdict_line(verdict)}"]
    lines += _behaviour_summary(verdict, paint)
    lines += _oversight_summary(verdict)
    lines += ["Changed:"] + _changed_summary(verdict)
    if verdict.outcomes:
        lines.append("Decided by (level, obligation, verifier):")
        lines += _decided_summary(verdict, paint)
    return lines


def _verdict_line(verdict: Verdict) -> str:
    ran = [o for o in verdict.outcomes if o.ran and not o.informational]
    shown = sum(1 for o in verdict.outcomes if o.ran and o.informational)
    cached = sum(1 for o in verdict.outcomes if o.cached)
    return (_levels_line(verdict, ran) + (f"; {shown} comparison(s) shown for information" if shown else "")
            + (f"; {cached} from the verdict cache" if cached else ""))


def _levels_line(verdict: Verdict, ran: list[Judgement]) -> str:
    levels: dict[str, int] = {}
    for outcome in ran:
        levels[outcome.evidence.level.value] = levels.get(outcome.evidence.level.value, 0) + 1
    counts = ", ".join(f"{n} {level}" for level, n in sorted(levels.items()))
    if verdict.accepted:
        return f"accepted: all {len(ran)} obligation(s) met ({counts or 'nothing to check'})"
    if verdict.met_except_deferred:
        kinds = ", ".join(sorted({o.obligation.kind.value for o in verdict.deferred}))
        return (f"not accepted yet: all {len(ran)} obligation(s) that ran were met ({counts or 'none ran'}), and "
                f"{len(verdict.deferred)} ({kinds}) were deferred (--defer) to the full check; the patch can be "
                "applied only once a check without --defer accepts it")
    skipped = f"; {len(verdict.not_run)} not run (--fail-fast)" if verdict.not_run else ""
    failed = sum(1 for o in ran if not o.ok)
    total = sum(1 for o in verdict.outcomes if not o.informational)
    return f"rejected: {failed} of {total} obligation(s) not met ({counts}){skipped}"


def _behaviour_summary(verdict: Verdict, paint: Callable[[str, str], str]) -> list[str]:
    """Where a property lets behaviour change, what the comparison found: a reviewer reads it first."""
    shown = _by_target(verdict.behaviour_shown)
    if not shown:
        return []
    lines = ["Behaviour where a property allows it to change (old and new compared):"]
    for outcome in shown:
        ob, ev = outcome.obligation, outcome.evidence
        what = outcome.behaviour
        if what == "changed":
            head = paint("behaviour changed", "33;1")
            why = (f"allowed by {ob.allowed_by}" if outcome.informational
                   else f"rejected: --require unchanged, though {ob.allowed_by} allows it")
            cex = ev.counterexample
            at = (f"at {cex.call} old {_bare(cex.old)}, new {_bare(cex.new)}" if cex is not None
                  else ev.detail)
            lines.append(f"  {head} ({why}): {at}")
        elif what == "unchanged":
            lines.append(f"  behaviour unchanged: {ob.target} ({ev.level.value} by {ev.verifier})")
        else:
            need = "" if outcome.informational else "; rejected: --require unchanged needs it shown"
            lines.append(f"  behaviour not established: {ob.target} ({ev.level.value} by {ev.verifier}; the "
                         f"reasons are under Checked below){need}")
    return lines


def _oversight_summary(verdict: Verdict) -> list[str]:
    """The quorum of independent checkers and the reviewer model, where they were asked."""
    lines = []
    if verdict.quorum_need:
        votes = ", ".join(f"{v.checker} {'accepts' if v.accepted else 'does not accept'}" for v in verdict.quorum)
        lines.append(f"Quorum: {'met' if verdict.quorum_met else 'NOT met'}: {votes or 'not run (an obligation was not met)'}"
                     f"; {verdict.quorum_need} of {len(verdict.quorum) or 'the'} checker(s) must accept")
    if verdict.review is not None:
        review = verdict.review
        reasons = "; ".join(review.get("reasons") or ()) or "no reasons given"
        effect = ("it blocks the change" if review.get("decision") == "object"
                  else "an approval never accepts a change on its own")
        lines.append(f"Reviewer ({review.get('model')}): {review.get('decision')}: {reasons} ({effect})")
    return lines


def _bare(value: str | None) -> str:
    """``returned 0.0`` reads as ``0.0`` in "old ..., new ..."; a raised exception keeps its words."""
    return _result(value).removeprefix("returned ")


def _kind(outcome: Judgement) -> str:
    return "behaviour" if outcome.obligation.allowed_by else outcome.obligation.kind.value


def _changed_summary(verdict: Verdict) -> list[str]:
    lines = []
    for diff in sorted(verdict.changes.files, key=lambda d: natural_key(d.path)):
        names = [f"{_MARK[c.change]}{c.target}" for c in _sorted_changes(diff.changes)]
        more = f", and {len(names) - _SUMMARY_NAMES} more" if len(names) > _SUMMARY_NAMES else ""
        listed = f": {', '.join(names[:_SUMMARY_NAMES])}{more}" if names else ""
        lines.append(f"  {diff.path} ({diff.status}){listed}")
    return lines or ["  nothing"]


def _decided_summary(verdict: Verdict, paint: Callable[[str, str], str]) -> list[str]:
    # What decided a rejection first; stable, so each group keeps the natural order of targets.
    ordered = sorted(_by_target(verdict.outcomes), key=lambda o: (o.ok, not o.ran))
    width = min(40, max(len(o.obligation.target) for o in ordered))
    rows = []
    for outcome in ordered[:_SUMMARY_ROWS]:
        ob, ev = outcome.obligation, outcome.evidence
        mark = "i " if outcome.informational else "ok" if outcome.ok else ("--" if not outcome.ran else "x ")
        level = "deferred" if outcome.deferred else "not run" if not outcome.ran else ev.level.value
        by = "" if not outcome.ran else f"  by {ev.verifier}"
        by += " (cached)" if outcome.cached else ""
        by += " (for information)" if outcome.informational else ""
        rows.append(f"  {mark} {paint(f'{level:<9}', _COLOUR[ev.level] if outcome.ran else '2')} "
                    f"{_kind(outcome):<12} {ob.target:<{width}}{by}".rstrip())
    if len(ordered) > _SUMMARY_ROWS:
        rows.append(f"  ... and {len(ordered) - _SUMMARY_ROWS} more obligation(s) met; all are under Checked below")
    return rows


# ---------------------------------------------------------------------------------- details


def _by_target(outcomes: tuple[Judgement, ...]) -> list[Judgement]:
    return sorted(outcomes, key=lambda o: natural_key(o.obligation.target))


def _sorted_changes(changes):  # type: ignore[no-untyped-def]
    return sorted(changes, key=lambda c: natural_key(c.target))


def _changed_section(verdict: Verdict) -> list[str]:
    lines = ["Changed"]
    for diff in sorted(verdict.changes.files, key=lambda d: natural_key(d.path)):
        lines.append(f"  {diff.path} ({diff.status})")
        for change in _sorted_changes(diff.changes):
            what = change.note or (f"reads changed {', '.join(change.because)}" if change.because else change.change.value)
            span = f"lines {change.lines[0]}-{change.lines[1]}" if change.lines else ""
            lines.append(f"    {_MARK[change.change]} {change.target:<34} {change.kind.value:<11} {what:<30} {span}".rstrip())
    for path, why in verdict.unchecked:
        lines.append(f"  {path}: {why}")
    return lines


def _checked(outcome: Judgement, paint: Callable[[str, str], str], verbose: bool) -> list[str]:
    ev, ob = outcome.evidence, outcome.obligation
    if not outcome.ran:
        label = "deferred" if outcome.deferred else "not run"
        return [f"  {label:<9} {_kind(outcome):<12} {ob.target}: {ev.detail}"]
    where = f"{ob.path}:{ob.line}" if ob.line else ob.path
    located = "" if where == ob.target else f"  at {where}"
    level = paint(f"{ev.level.value:<9}", _COLOUR[ev.level])
    took = "cached" if outcome.cached else f"{ev.seconds:.2f} s"
    lines = [f"  {level} {_kind(outcome):<12} {ob.target:<32} {ev.verifier:<9} {took}{located}"]
    if outcome.cached:
        lines.append(f"      from the verdict cache: an earlier check of exactly this obligation ({ev.seconds:.2f} s "
                     "then); the level is what that check reached, never upgraded; --no-cache works it out again")
    if ob.allowed_by:
        lines.append(f"      old and new compared for information: {ob.allowed_by} lets the behaviour change"
                     + ("" if outcome.informational else "; --require unchanged makes a change a rejection"))
    undecided = ev.level is Level.UNKNOWN and bool(outcome.gave_up)  # the detail is these reasons, joined
    if not undecided:
        lines += _detail_lines(ev.detail, verbose, "      ")
    if undecided or (outcome.gave_up and verbose):
        lines.append("      why each verifier gave up:" if undecided else "      gave up before it decided:")
        for reason in outcome.gave_up:
            lines += _detail_lines(reason, verbose, "        - ", "          ")
    elif outcome.gave_up:
        names = ", ".join(r.partition(":")[0] for r in outcome.gave_up)
        lines.append(f"      ({names} gave up first; --verbose shows why)")
    return lines


def _detail_lines(detail: str, verbose: bool, first: str, rest: str | None = None) -> list[str]:
    """``detail`` in full: one line, or with ``verbose`` one line per clause (each note, coverage)."""
    rest = first if rest is None else rest
    if not verbose:
        return [first + detail]
    clauses = _clauses(detail)
    return [first + clauses[0]] + [rest + "  " + c for c in clauses[1:]] if clauses else [first]


def _clauses(detail: str) -> list[str]:
    """``detail`` split at each ``; `` outside brackets: the clauses a verifier joined."""
    clauses, depth, start = [], 0, 0
    for index, char in enumerate(detail):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        elif char == ";" and depth == 0 and detail.startswith("; ", index):
            clauses.append(detail[start:index])
            start = index + 2
    clauses.append(detail[start:])
    return [c.strip() for c in clauses if c.strip()]


def _failure(outcome: Judgement, verdict: Verdict) -> list[str]:
    ob, ev = outcome.obligation, outcome.evidence
    if ev.violations:
        return [line for v in ev.violations for line in _violation_lines(v, ev.verifier, verdict)]
    where = f"{ob.path}:{ob.line}" if ob.line else ob.path
    out = [f"  x {ob.target} ({where}) {ev.level.value}: {ev.detail}"]
    if ev.counterexample is not None:
        cex = ev.counterexample
        old, new = (_result(value) for value in (cex.old, cex.new))
        out.append(f"      counterexample: {cex.call}  old -> {old}  new -> {new}")
        if cex.replay:
            out.append(f"      replay: {cex.replay}")
    if ev.level in (Level.PROVEN, Level.PASSED):
        out.append("      require = \"proven\" accepts only PROVEN for behavioural obligations")
    return out


def _result(value: str | None) -> str:
    return "(not reported by the verifier)" if value is None else value


def _violation_lines(v, verifier: str, verdict: Verdict) -> list[str]:  # type: ignore[no-untyped-def]
    where = f"{v.path}:{v.line}" if v.line else v.path
    out = [f"  x {where} [{v.rule}] {v.message}"]
    if not v.fix:
        return out
    if verifier != "static":
        out.append(f"      fix: {v.fix} (seen at run time; run-time checks cannot be waived)")
    elif v.rule in _NEVER_ALLOWED or (v.rule == "protected-path" and _sealed(v.path, verdict)):
        out.append(f"      fix: {v.fix} (no allowance is offered: the property files, the configuration and "
                   "the ledger are never waived for a patch)")
    else:
        out.append(f"      fix: {v.fix}; or allow it for this path: [tool.sandbox] allow = "
                   f"{{ \"{v.rule}\" = [\"{v.path}\"] }}")
    return out


def _sealed(path: str, verdict: Verdict) -> bool:
    return path_matches(path, verdict.sealed) is not None


def _accepted_line(verdict: Verdict) -> str:
    levels = sorted({o.evidence.level.value for o in verdict.outcomes if not o.informational})
    reached = f"every obligation reached {' or '.join(levels)}" if levels else "nothing needed checking"
    return f"Accepted: {reached}. `sandbox apply` writes exactly these bytes and records them in the ledger."


def diff_text(verdict: Verdict) -> str:
    """The verified change as a unified diff (what `apply` would write), for a person to review."""
    out = []
    for change in verdict.files:
        old = (change.before_text or "").splitlines(keepends=True)
        new = (change.after_text or "").splitlines(keepends=True)
        out.extend(difflib.unified_diff(old, new, f"a/{change.path}", f"b/{change.path}"))
    return "".join(out)


# ---------------------------------------------------------------------------------- progress


def progress_printer(stream: IO[str], *, colour: bool = False) -> Callable[[Progress], None]:
    """A ``Gate.check(progress=...)`` callback printing one line per obligation start and end.

    Uses rich for the terminal; callers pass it only when ``stream`` is a TTY.  Thread-safe:
    with ``--jobs`` the gate reports from several threads.
    """
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, no_color=not colour, soft_wrap=True)
    lock = threading.Lock()

    def show(step: Progress) -> None:
        ob, judgement = step.obligation, step.judgement
        text = Text(f"[{step.index}/{step.total}] {ob.kind.value} {ob.target}: ")  # plain: names are not markup
        if judgement is None:
            text.append("checking ...")
        else:
            ev = judgement.evidence
            text.append(ev.level.value, style="green" if judgement.ok else "red" if ev.level.failed else "yellow")
            text.append(f" by {ev.verifier} ({ev.seconds:.1f} s)")
        with lock:
            console.print(text)

    return show


def _json(verdict: Verdict) -> str:
    return json.dumps(verdict.to_json(), indent=2, sort_keys=False) + "\n"


def _sarif(verdict: Verdict) -> str:
    results: list[dict] = []
    seen: dict[str, int] = {}
    for outcome in verdict.failures:
        ev, ob = outcome.evidence, outcome.obligation
        if not outcome.ran:
            continue  # not a finding: --fail-fast stopped before it
        for v in ev.violations or ():
            results.append(_sarif_result(v.rule, v.message, v.path, (v.line, v.line), v.symbol or ob.target, seen))
        if not ev.violations:
            span = (ob.line, (ob.new_lines or ob.old_lines or (None, None))[1])
            # One obligation per kind and target: its detail (timings, scratch paths, the replay
            # command) is no part of what the finding is.
            results.append(_sarif_result(_evidence_rule(ob.kind, ev.level), f"{ob.target}: {ev.detail}",
                                         ob.path, span, ob.target, seen, identity=""))
    rules = _sarif_rules({r["ruleId"] for r in results})
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    for result in results:
        result["ruleIndex"] = index[result["ruleId"]]
    driver = {"name": "selfmod-sandbox", "version": _version(), "informationUri": _DOCS_URI + "ci.md",
              "rules": rules}
    doc = {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{"tool": {"driver": driver}, "results": results,
                  "invocations": [{"executionSuccessful": True}]}],
    }
    return json.dumps(doc, indent=2) + "\n"


def _evidence_rule(kind: Kind, level: Level) -> str:
    return f"{kind.value}-{level.value.lower()}"


# Where each rule id is explained (docs/ci.md has a heading per policy rule and per level).
_DOCS_URI = "https://github.com/selfmod-sandbox/selfmod-sandbox/blob/main/docs/"


def _sarif_rules(used: set[str]) -> list[dict]:
    """A rule for every id a result can carry: the policy rules, and each obligation kind at each
    level (``kernel-refuted``, ``equivalent-unknown``, ...), plus any id a verifier invented."""
    rules = [_sarif_rule(r.id, r.summary, f"{r.summary}. Fix: {r.fix}", r.id) for r in RULES.values()]
    for kind in Kind:
        for level in Level:
            rules.append(_sarif_rule(_evidence_rule(kind, level), f"a {kind.value} obligation reached {level.value}",
                                     _LEVEL_HELP[level], level.value.lower()))
    known = {r["id"] for r in rules}
    rules += [_sarif_rule(rule, f"policy rule {rule}", "see the result's message", "rule-ids")
              for rule in sorted(used - known)]
    return rules


def _sarif_rule(rule: str, summary: str, help_text: str, anchor: str) -> dict:
    return {"id": rule, "shortDescription": {"text": summary}, "help": {"text": help_text},
            "helpUri": f"{_DOCS_URI}ci.md#{anchor}", "defaultConfiguration": {"level": "error"}}


_LEVEL_HELP = {
    Level.REFUTED: "a concrete counterexample was found; the result names it and the command that replays it",
    Level.VIOLATION: "a policy rule broke; the result names the file, line and rule",
    Level.UNKNOWN: "the verifiers could not decide; the result says why and how to make the code checkable",
    Level.PASSED: "tested without a counterexample, but require = \"proven\" asks for a proof",
    Level.PROVEN: "proved for every input in the stated domain",
}


def _version() -> str:
    try:
        return importlib.metadata.version("selfmod-sandbox")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _sarif_result(rule: str, message: str, path: str, span: tuple[int | None, int | None], target: str,
                  seen: dict[str, int], identity: str | None = None) -> dict:
    start, end = span
    key = _fingerprint(rule, path, target, message if identity is None else identity)
    # The same finding twice in one definition (two identical calls) stays two alerts.
    seen[key] = seen.get(key, 0) + 1
    location: dict = {"artifactLocation": {"uri": path}}
    if start:
        location["region"] = {"startLine": start, **({"endLine": end} if end and end > start else {})}
    return {"ruleId": rule, "level": "error", "message": {"text": message}, "locations": [{"physicalLocation": location}],
            "partialFingerprints": {"sandboxFinding/v1": f"{key}:{seen[key]}"}}


def _fingerprint(rule: str, path: str, target: str, message: str) -> str:
    """Identity of a finding across runs: code scanning matches alerts by it, so it leaves out
    line numbers (an unrelated edit above moves them) and every other number in the message
    (timings, counts, a counterexample shrunk differently), and absolute paths (a worker's scratch
    directory is new on every run)."""
    import hashlib
    import re

    normalised = " ".join(re.sub(r"\d+(?:\.\d+)?", "#", re.sub(r"(?<![\w.])/[^\s'\"]+", "<path>", message)).split())
    return hashlib.sha256("\0".join((rule, path, target, normalised)).encode()).hexdigest()[:32]


def _junit(verdict: Verdict) -> str:
    from xml.sax.saxutils import quoteattr  # only this format needs it (and it imports urllib)

    cases = []
    for o in verdict.outcomes:
        ob, ev = o.obligation, o.evidence
        name = quoteattr(f"{ob.kind.value} {ob.target}")
        body = ("" if o.ok else f"<skipped message={quoteattr(ev.detail)}/>" if not o.ran
                else f"<failure message={quoteattr(ev.level.value)} type={quoteattr(ev.level.value)}>"
                     f"{_xml(ev.detail)}</failure>")
        cases.append(f'  <testcase classname={quoteattr(ob.path)} name={name} time="{ev.seconds:.6f}">{body}</testcase>')
    failures = sum(1 for o in verdict.failures if o.ran)
    head = (f'<testsuite name="sandbox check" tests="{len(verdict.outcomes)}" failures="{failures}" errors="0" '
            f'skipped="{len(verdict.not_run)}" time="{verdict.seconds:.6f}">')
    return '<?xml version="1.0" encoding="utf-8"?>\n' + "\n".join([head, *cases, "</testsuite>"]) + "\n"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _github(verdict: Verdict) -> str:
    lines = []
    for o in verdict.failures:
        ob, ev = o.obligation, o.evidence
        if not o.ran:
            continue
        for v in ev.violations:
            lines.append(_gh_command("error", v.message, file=v.path, line=v.line or 1, title=v.rule))
        if not ev.violations:
            lines.append(_gh_command("error", f"{ob.target}: {ev.detail}", file=ob.path, line=ob.line or 1,
                                     title=f"{ob.kind.value} {ev.level.value}"))
    lines.append(_gh_command("notice", f"{'accepted' if verdict.accepted else 'rejected'}: "
                             f"{len(verdict.outcomes)} obligations, {len(verdict.failures)} not met", title="sandbox"))
    return "\n".join(lines) + "\n"


def _gh_command(command: str, message: str, **properties: object) -> str:
    """A workflow command, ``::error file=a.py,line=3,title=x::message``, escaped as the runner
    parses it: ``%``, CR and LF everywhere, and ``:`` and ``,`` too inside property values."""
    props = ",".join(f"{key}={_gh_property(str(value))}" for key, value in properties.items())
    return f"::{command} {props}::{_gh(message)}"


def _gh(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh(text).replace(":", "%3A").replace(",", "%2C")


FORMATS: dict[str, Callable[[Verdict], str]] = {
    "text": render_text, "json": _json, "sarif": _sarif, "junit": _junit, "github": _github,
}
