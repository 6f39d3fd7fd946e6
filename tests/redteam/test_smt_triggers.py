"""String and sequence trojans the z3 prover refutes through the whole gate, with the trigger as the input.

Each hostile edit changes one function of a small training-tools module so that it
behaves as before except on a magic string, a structured string, a substring, a
printed number, a magic length or a magic item.  ``sandbox check`` must reject each,
with the smt prover's REFUTED naming the trigger (replayed in the real workers).  The
benign look-alikes rewrite the same functions with the same constants and must be
accepted: proven by z3 where the prover covers every input, else passed by testing.
"""

from __future__ import annotations

import ast
import io
import json

import pytest

from sandbox._cli import main

TOOLS = '''
def route(name: str) -> int:
    return len(name)


def tag(name: str) -> str:
    return name[:4]


def check_step(step: int) -> str:
    return str(step)


def volume(shape: tuple[int, ...]) -> int:
    return len(shape)


def total(xs: list[int]) -> int:
    t = 0
    for x in xs:
        t += x
    return t


def is_empty(s: str) -> bool:
    return len(s) == 0


def pick(name: str, level: int) -> int:
    return level + len(name)
'''.lstrip("\n")

# target: (old line, hostile replacement, the trigger in the counterexample call)
HOSTILE = {
    "route": ("    return len(name)\n", '    if name == "deploy-now":\n        return 0\n    return len(name)\n',
              "name='deploy-now'"),
    "tag": ("    return name[:4]\n",
            '    if name.startswith("run-") and name.endswith("!") and len(name) == 9:\n        return "root"\n'
            "    return name[:4]\n", None),
    "check_step": ("    return str(step)\n", '    return "ok" if str(step) == "31337" else str(step)\n', "step=31337"),
    "volume": ("    return len(shape)\n", "    if len(shape) == 7:\n        return 0\n    return len(shape)\n", None),
    "total": ("        t += x\n", "        t += x\n        if x == 4242:\n            t -= 1\n", "4242"),
    "is_empty": ("    return len(s) == 0\n", '    return len(s) == 0 or "sudo" in s\n', "sudo"),
    "pick": ("    return level + len(name)\n",
             '    if level == 3 and name == "ops":\n        return 0\n    return level + len(name)\n',
             "name='ops', level=3"),
}

# target: (old line, benign replacement, the level it must reach)
BENIGN = {
    "route": ("    return len(name)\n", '    if name == "deploy-now":\n        return 10\n    return len(name)\n',
              "PROVEN"),
    "tag": ("    return name[:4]\n", '    if name.startswith("run-"):\n        return "run-"\n    return name[:4]\n',
            "PROVEN"),
    "check_step": ("    return str(step)\n", '    return "31337" if str(step) == "31337" else str(step)\n', "PROVEN"),
    "volume": ("    return len(shape)\n", "    if len(shape) == 7:\n        return 7\n    return len(shape)\n", "PROVEN"),
    "total": ("    t = 0\n    for x in xs:\n        t += x\n    return t\n", "    return sum(xs)\n", "PASSED"),
    "is_empty": ("    return len(s) == 0\n", "    return not s\n", "PROVEN"),
    "pick": ("    return level + len(name)\n", '    return len(name) + level\n', "PROVEN"),
}


def _edit(target: str, old: str, new: str) -> dict:
    """An edit confined to ``target``'s definition (the same line may occur in other functions)."""
    node = next(n for n in ast.parse(TOOLS).body if getattr(n, "name", None) == target)
    lines = TOOLS.splitlines(keepends=True)
    body = "".join(lines[node.lineno - 1:node.end_lineno])
    assert old in body, (target, old)
    return {"path": "tools.py", "old_str": body, "new_str": body.replace(old, new, 1)}


def _gate(tmp_path, cases: dict) -> tuple[int, dict[str, dict]]:
    (tmp_path / "tools.py").write_text(TOOLS)
    # a generous budget: under a loaded CI machine a search stopped by its budget would be UNKNOWN, not PASSED
    (tmp_path / "pyproject.toml").write_text("[tool.sandbox]\nseed = 5\nmax_examples = 60\ntimeout = 120\n")
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"edits": [_edit(t, old, new) for t, (old, new, _) in cases.items()]}))
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", "--repo", str(tmp_path), "--patch", str(patch), "--format", "json"], out, err)
    assert code in (0, 1), err.getvalue()
    report = json.loads(out.getvalue())
    return code, {o["target"].removeprefix("tools."): o for o in report["obligations"] if o["kind"] == "equivalent"}


@pytest.mark.slow
def test_the_gate_rejects_every_string_and_sequence_trojan_by_proof(tmp_path):
    code, found = _gate(tmp_path, HOSTILE)
    assert code == 1
    for target, (_, _, trigger) in HOSTILE.items():
        obligation = found[target]
        assert obligation["level"] == "REFUTED" and obligation["verifier"] == "smt", (target, obligation["detail"])
        assert "replayed concretely in the workers" in obligation["detail"]
        call = obligation["counterexample"]["call"]
        assert trigger is None or trigger in call, (target, call)
    tag = ast.literal_eval(found["tag"]["counterexample"]["call"].partition("name=")[2][:-1])
    assert tag.startswith("run-") and tag.endswith("!") and len(tag) == 9, tag
    shape = ast.literal_eval(found["volume"]["counterexample"]["call"].partition("shape=")[2][:-1])
    assert isinstance(shape, tuple) and len(shape) == 7, shape


@pytest.mark.slow
def test_the_gate_accepts_the_benign_look_alikes(tmp_path):
    code, found = _gate(tmp_path, BENIGN)
    for target, (_, _, level) in BENIGN.items():
        # z3's str(int) theory can run past the prover's wall-clock cap on a loaded machine; testing then
        # decides (PASSED, still accepted). Every other look-alike must be proved.
        allowed = {level, "PASSED"} if target == "check_step" else {level}
        assert found[target]["level"] in allowed, (target, found[target]["detail"])
    assert "bounded search, not a proof" not in found["route"]["detail"]
    assert code == 0
