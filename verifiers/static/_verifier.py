"""The static policy verifier: protected paths, removed definitions, and forbidden constructs."""

from __future__ import annotations

import ast
from collections import Counter, defaultdict
from collections.abc import Iterable

import libcst as cst

from properties import RULES, Kind, Obligation, module_name
from verifiers._contract import Context, Evidence, Level, Verifier, Violation
from verifiers.static._allowlist import MODULES, TABLES, AllowList
from verifiers.static._rules import SOURCE_RULES, Rulebook
from verifiers.static._reduce import reduce
from verifiers.static._scan import Finding, scan
from verifiers.static._shadow import shadowed_module

__all__ = ["StaticPolicy"]

_NAME = "static"


class StaticPolicy(Verifier):
    """Judges ``POLICY``, ``PROTECTED`` and ``REMOVAL`` obligations from source alone.

    For a ``POLICY`` obligation only what the patch introduces is reported: a
    finding counts when its rule, resolved symbol and enclosing scope occur more
    often in the new file than in the old one.
    """

    name = _NAME

    def _check(self, obligation: Obligation, context: Context) -> Evidence:
        if obligation.kind is Kind.PROTECTED:
            return _protected(obligation, context)
        if obligation.kind is Kind.REMOVAL:
            return _removal(obligation, context)
        if obligation.kind is Kind.POLICY:
            return _policy(obligation, context)
        return Evidence(Level.UNKNOWN, _NAME, f"the static verifier does not judge {obligation.kind.value} "
                        f"obligations ({obligation.target}); route them to another verifier")


def _violation(rule: str, path: str, line: int | None, message: str, symbol: str = "") -> Violation:
    return Violation(rule, path, line, message, RULES[rule].fix, symbol)


def _protected(obligation: Obligation, context: Context) -> Evidence:
    if obligation.rule:
        return _planned(obligation, context)
    path = obligation.path
    allowed = context.policy.allowed("protected-path", path)
    if allowed:
        return Evidence(Level.PASSED, _NAME, f"{path} is protected, but the policy allows changing it "
                        f"(protected-path allowed by {allowed!r})")
    pattern = context.policy.protected_by(path)
    if pattern is None:  # the planner's own finding (a changed [tool.sandbox] table)
        message, pattern = f"{obligation.reason}; the patch may not change it", path
    else:
        message = f"{path} is protected (it matches the pattern {pattern!r}); the patch may not change it"
    return Evidence(Level.VIOLATION, _NAME, message,
                    violations=(_violation("protected-path", path, obligation.line, message, pattern),))


def _planned(obligation: Obligation, context: Context) -> Evidence:
    """A rule the planner decided from the repository (a shadowed module, a symlink)."""
    path, rule = obligation.path, obligation.rule
    # A symlink is never allowed: apply writes regular files, so it could not write the link.
    allowed = context.policy.allowed(rule, path) if rule != "symlink" else None
    if allowed:
        return Evidence(Level.PASSED, _NAME, f"{obligation.reason} (allowed by {allowed!r})")
    return Evidence(Level.VIOLATION, _NAME, obligation.reason,
                    violations=(_violation(rule, path, obligation.line, obligation.reason, path),))


def _removal(obligation: Obligation, context: Context) -> Evidence:
    path, target = obligation.path, obligation.target
    allowed = context.policy.allowed("removed-definition", path)
    if allowed:
        return Evidence(Level.PASSED, _NAME, f"{target} was removed from {path}, allowed by {allowed!r}")
    where = f" (old lines {obligation.old_lines[0]}-{obligation.old_lines[1]})" if obligation.old_lines else ""
    message = f"the patch removes the public definition `{target}` from {path}{where}"
    if obligation.module == target and obligation.old_source is None:
        message = obligation.reason  # a deleted module: the reason names its importers
    return Evidence(Level.VIOLATION, _NAME, message,
                    violations=(_violation("removed-definition", path, obligation.line, message, target),))


def _policy(obligation: Obligation, context: Context) -> Evidence:
    path = obligation.path
    after = context.after.get(path)
    if after is None:
        return Evidence(Level.PASSED, _NAME, f"{path} is deleted by the patch: no new code to check")
    if not path.endswith((".py", ".pyi")):
        return Evidence(Level.UNKNOWN, _NAME, f"{path} is not a Python file; the static verifier reads only "
                        "Python source, so it cannot vouch for this file")
    rulebook = _rulebook(context)
    before = context.before.get(path)
    reduced = reduce(after, before)
    try:
        new = scan(reduced.after, rulebook)
    except cst.ParserSyntaxError as error:
        line, why = _syntax_error(after, path, error)
        return Evidence(Level.UNKNOWN, _NAME, f"{path}:{line}: cannot parse the new version ({why}); "
                        "fix the syntax error first")
    # The old version is scanned only to tell pre-existing findings from introduced ones:
    # with nothing found in the new version there is nothing to tell apart.
    old, note = _old_findings(reduced.before, rulebook) if new else ((), "")
    if reduced.stubbed:
        note += (f"; {reduced.stubbed} top-level definition(s) the patch leaves unchanged were not rescanned "
                 "(the module's imports and top-level statements are unchanged too)")
    introduced = _introduced(new, old, after, before or "")
    shadowing = shadowed_module(path) if path not in context.before else None
    if shadowing:
        introduced.insert(0, Finding("module-shadowing", path, "<module>", 1, shadowing))
    return _judge(path, introduced, context, note + _preexisting(new, introduced))


def _rulebook(context: Context) -> Rulebook:
    """The named rules plus the allow-list, with the repository's own modules and patterns."""
    touched = {module_name(p).split(".")[0] for p in (*context.before, *context.after) if p.endswith(".py")}
    allowlist = AllowList(TABLES, local=context.policy.local_modules | touched, extra=context.policy.allow_calls,
                          modules=MODULES)
    return Rulebook(context.policy.forbidden_names, allowlist)


def _syntax_error(source: str, path: str, error: cst.ParserSyntaxError) -> tuple[int, str]:
    """Python's own line and message where it has one; libcst points at the next token."""
    try:
        ast.parse(source, path)
    except SyntaxError as python:
        return python.lineno or error.raw_line, python.msg
    return error.raw_line, error.message


def _old_findings(before: str | None, rulebook: Rulebook) -> tuple[tuple[Finding, ...], str]:
    if before is None:
        return (), ""
    try:
        return scan(before, rulebook), ""
    except cst.ParserSyntaxError:
        return (), "; the old version does not parse, so every finding counts as new"


def _line_text(source: str, line: int) -> str:
    lines = source.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _introduced(new: Iterable[Finding], old: Iterable[Finding], after: str, before: str) -> list[Finding]:
    """The new findings beyond the old ones, per key; unchanged lines are matched away first."""
    old_by_key: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for finding in old:
        old_by_key[finding.key].append(_line_text(before, finding.line))
    new_by_key: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
    for finding in new:
        new_by_key[finding.key].append(finding)
    out: list[Finding] = []
    for key, findings in new_by_key.items():
        extra = len(findings) - len(old_by_key[key])
        if extra <= 0:
            continue
        spare = Counter(old_by_key[key])
        fresh = []
        for finding in findings:
            text = _line_text(after, finding.line)
            if spare[text] > 0:
                spare[text] -= 1
            else:
                fresh.append(finding)
        matched = [f for f in findings if f not in fresh]
        out.extend((fresh + matched)[:extra])
    return sorted(out, key=lambda f: (f.line, f.rule, f.symbol))


def _preexisting(new: tuple[Finding, ...], introduced: list[Finding]) -> str:
    kept = len(new) - len(introduced)
    return f"; {kept} pre-existing finding(s) not re-reported" if kept else ""


def _judge(path: str, introduced: list[Finding], context: Context, note: str) -> Evidence:
    reported, allowed = [], []
    for finding in introduced:
        pattern = context.policy.allowed(finding.rule, path)
        (allowed if pattern else reported).append((finding, pattern))
    if allowed:
        note += "; allowed by policy: " + ", ".join(
            f"{f.rule} at line {f.line} ({pattern!r})" for f, pattern in allowed)
    if not reported:
        return Evidence(Level.PASSED, _NAME, f"{len(SOURCE_RULES)} rules over {path}: "
                        f"no new forbidden construct, and every name the new code reaches is on the allow-list"
                        f"{note}")
    violations = tuple(_violation(f.rule, path, f.line, f.message, f.symbol) for f, _ in reported)
    listed = ", ".join(f"{f.rule} at line {f.line} (`{f.symbol}`)" for f, _ in reported)
    return Evidence(Level.VIOLATION, _NAME, f"{len(violations)} new violation(s) in {path}: {listed}{note}",
                    violations=violations)
