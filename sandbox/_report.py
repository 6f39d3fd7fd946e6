"""Report formats of a verdict: text for people; json, sarif, junit and github for machines."""

from __future__ import annotations

import json
from collections.abc import Callable
from xml.sax.saxutils import quoteattr

from properties import RULES
from verifiers import Level

from sandbox._changes import ChangeKind
from sandbox._verdict import Judgement, Verdict

__all__ = ["FORMATS", "render", "render_text"]

_MARK = {ChangeKind.ADDED: "+", ChangeKind.REMOVED: "-", ChangeKind.MODIFIED: "~", ChangeKind.COSMETIC: "="}
_COLOUR = {Level.PROVEN: "32", Level.PASSED: "32", Level.UNKNOWN: "33", Level.REFUTED: "31", Level.VIOLATION: "31"}


def render(verdict: Verdict, fmt: str, *, colour: bool = False) -> str:
    """The verdict in format ``fmt`` (one of ``FORMATS``)."""
    if fmt == "text":
        return render_text(verdict, colour=colour)
    return FORMATS[fmt](verdict)


def render_text(verdict: Verdict, *, colour: bool = False) -> str:
    paint = (lambda text, code: f"\x1b[{code}m{text}\x1b[0m") if colour else (lambda text, code: text)
    files = ", ".join(d.path for d in verdict.changes.files)
    status = paint("ACCEPTED", "32;1") if verdict.accepted else paint("REJECTED", "31;1")
    count = len(verdict.outcomes)
    lines = [f"sandbox check: {status}  ({files}; {count} obligation{'s' * (count != 1)}; {verdict.seconds:.2f} s)", ""]
    lines += _changed_section(verdict)
    lines += ["", "Checked"]
    for outcome in verdict.outcomes:
        ev, ob = outcome.evidence, outcome.obligation
        level = paint(f"{ev.level.value:<9}", _COLOUR[ev.level])
        lines.append(f"  {level} {ob.kind.value:<12} {ob.target:<32} {ev.verifier:<9} {_first_sentence(ev.detail)}")
    if not verdict.outcomes:
        lines.append("  nothing: no change with behavioural or policy obligations")
    if verdict.isolation:
        lines += ["", f"Untrusted code ran in isolated workers: {verdict.isolation}"]
        lines += [f"  worker died: {death}" for death in verdict.worker_deaths]
    if verdict.accepted:
        lines += ["", _accepted_line(verdict)]
    else:
        lines += ["", "Why it was rejected"] + [line for o in verdict.failures for line in _failure(o)]
    return "\n".join(lines) + "\n"


def _changed_section(verdict: Verdict) -> list[str]:
    lines = ["Changed"]
    for diff in verdict.changes.files:
        lines.append(f"  {diff.path} ({diff.status})")
        for change in diff.changes:
            what = change.note or (f"reads changed {', '.join(change.because)}" if change.because else change.change.value)
            span = f"lines {change.lines[0]}-{change.lines[1]}" if change.lines else ""
            lines.append(f"    {_MARK[change.change]} {change.target:<34} {change.kind.value:<11} {what:<30} {span}".rstrip())
    for path, why in verdict.unchecked:
        lines.append(f"  {path}: {why}")
    return lines


def _failure(outcome: Judgement) -> list[str]:
    ob, ev = outcome.obligation, outcome.evidence
    if ev.violations:
        out = []
        for v in ev.violations:
            out.append(f"  x {v.path}:{v.line} [{v.rule}] {v.message}")
            if v.fix and ev.verifier == "static":
                out.append(f"      fix: {v.fix}; or allow it for this path: [tool.sandbox] allow = {{ \"{v.rule}\" = [\"{v.path}\"] }}")
            elif v.fix:
                out.append(f"      fix: {v.fix} (seen at run time; run-time checks cannot be waived)")
        return out
    where = f"{ob.path}:{ob.line}" if ob.line else ob.path
    out = [f"  x {ob.target} ({where}) {ev.level.value}: {ev.detail}"]
    if ev.counterexample is not None:
        cex = ev.counterexample
        out.append(f"      counterexample: {cex.call}  old -> {cex.old}  new -> {cex.new}")
        if cex.replay:
            out.append(f"      replay: {cex.replay}")
    if ev.level in (Level.PROVEN, Level.PASSED):
        out.append("      require = \"proven\" accepts only PROVEN for behavioural obligations")
    return out


def _accepted_line(verdict: Verdict) -> str:
    levels = sorted({o.evidence.level.value for o in verdict.outcomes})
    reached = f"every obligation reached {' or '.join(levels)}" if levels else "nothing needed checking"
    return f"Accepted: {reached}. `sandbox apply` writes exactly these bytes and records them in the ledger."


def _first_sentence(detail: str) -> str:
    head = detail.split("; ")[0]
    return head if len(head) <= 100 else head[:97] + "..."


def _json(verdict: Verdict) -> str:
    return json.dumps(verdict.to_json(), indent=2, sort_keys=False) + "\n"


def _sarif(verdict: Verdict) -> str:
    results = []
    for outcome in verdict.failures:
        ev, ob = outcome.evidence, outcome.obligation
        for v in ev.violations or ():
            results.append(_sarif_result(v.rule, v.message, v.path, v.line))
        if not ev.violations:
            results.append(_sarif_result(f"{ob.kind.value}-{ev.level.value.lower()}", f"{ob.target}: {ev.detail}",
                                         ob.path, ob.line))
    rules = [{"id": r.id, "shortDescription": {"text": r.summary}, "help": {"text": r.fix}} for r in RULES.values()]
    doc = {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{"tool": {"driver": {"name": "selfmod-sandbox", "rules": rules}}, "results": results}],
    }
    return json.dumps(doc, indent=2) + "\n"


def _sarif_result(rule: str, message: str, path: str, line: int | None) -> dict:
    region = {"startLine": line} if line else {}
    return {"ruleId": rule, "level": "error", "message": {"text": message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": path}, "region": region}}]}


def _junit(verdict: Verdict) -> str:
    cases = []
    for o in verdict.outcomes:
        ob, ev = o.obligation, o.evidence
        name = quoteattr(f"{ob.kind.value} {ob.target}")
        body = "" if o.ok else f"<failure message={quoteattr(ev.level.value)}>{_xml(ev.detail)}</failure>"
        cases.append(f'  <testcase classname={quoteattr(ob.path)} name={name} time="{ev.seconds:.6f}">{body}</testcase>')
    failures = len(verdict.failures)
    head = (f'<testsuite name="sandbox check" tests="{len(verdict.outcomes)}" failures="{failures}" '
            f'time="{verdict.seconds:.6f}">')
    return '<?xml version="1.0" encoding="utf-8"?>\n' + "\n".join([head, *cases, "</testsuite>"]) + "\n"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _github(verdict: Verdict) -> str:
    lines = []
    for o in verdict.failures:
        ob, ev = o.obligation, o.evidence
        for v in ev.violations:
            lines.append(f"::error file={v.path},line={v.line or 1},title={v.rule}::{_gh(v.message)}")
        if not ev.violations:
            lines.append(f"::error file={ob.path},line={ob.line or 1},title={ob.kind.value} "
                         f"{ev.level.value}::{_gh(ob.target + ': ' + ev.detail)}")
    lines.append(f"::notice title=sandbox::{'accepted' if verdict.accepted else 'rejected'}: "
                 f"{len(verdict.outcomes)} obligations, {len(verdict.failures)} not met")
    return "\n".join(lines) + "\n"


def _gh(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


FORMATS: dict[str, Callable[[Verdict], str]] = {
    "text": render_text, "json": _json, "sarif": _sarif, "junit": _junit, "github": _github,
}
