"""The hash-chained ledger: round trip, and every kind of tampering is detected and named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox._errors import GateError
from sandbox._ledger import GENESIS, Ledger, entry_hash

PROJECT = Path(__file__).resolve().parents[2]


def filled(directory: Path, n: int = 4) -> Ledger:
    ledger = Ledger(directory)
    for i in range(n):
        ledger.append("verdict" if i % 2 else "apply", {"i": i, "files": [f"f{i}.py"], "ok": True})
    return ledger


def lines(ledger: Ledger) -> list[bytes]:
    return ledger.path.read_bytes().splitlines(keepends=True)


def rewrite(ledger: Ledger, new_lines: list[bytes]) -> None:
    ledger.path.write_bytes(b"".join(new_lines))


def problems(ledger: Ledger, **kwargs: Any) -> str:
    check = ledger.verify(**kwargs)
    assert not check.ok
    return "\n".join(check.problems)


# ---------------------------------------------------------------------------------- round trip


def test_creates_nothing_until_append(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / ".sandbox")
    check = ledger.verify()
    assert check.ok and check.count == 0 and check.head == GENESIS == ledger.head
    assert ledger.entries() == ()
    assert not (tmp_path / ".sandbox").exists()


def test_append_entries_round_trip(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    appended = [ledger.append("verdict", {"accepted": True, "n": 1.5, "t": ("a", None)}),
                ledger.append("apply", {"files": {"a.py": "0" * 64}}),
                ledger.append("recover", {"outcome": "rolled back"})]
    assert Ledger(tmp_path).entries() == tuple(appended)
    assert [e.seq for e in appended] == [0, 1, 2]
    assert appended[0].prev == GENESIS
    assert [e.prev for e in appended[1:]] == [e.hash for e in appended[:-1]]
    assert appended[0].record == {"accepted": True, "n": 1.5, "t": ["a", None]}
    assert ledger.head == appended[-1].hash
    assert all(entry_hash(e.to_json()) == e.hash for e in appended)
    assert json.loads((tmp_path / "ledger.head").read_text()) == {"count": 3, "head": appended[-1].hash}


def test_lines_are_canonical_json(tmp_path: Path) -> None:
    ledger = filled(tmp_path, 2)
    for line in lines(ledger):
        obj = json.loads(line)
        assert line == json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        assert list(obj) == sorted(obj)


def test_verify_ok(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    check = ledger.verify(expect_head=ledger.head)
    assert check.ok and check.count == 4 and check.problems == ()
    assert check.head == ledger.entries()[-1].hash


@pytest.mark.parametrize("bad", [b"bytes", {1, 2}, object(), float("nan"), float("inf"), {1: "int key"}])
def test_unserialisable_record_rejected_before_writing(tmp_path: Path, bad: Any) -> None:
    ledger = filled(tmp_path, 1)
    before = ledger.path.read_bytes()
    with pytest.raises(TypeError, match=r"record\['x'\]"):
        ledger.append("verdict", {"x": bad})
    assert ledger.path.read_bytes() == before


def test_non_mapping_record_and_bad_kind_rejected(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l")
    with pytest.raises(TypeError, match="mapping"):
        ledger.append("verdict", ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="kind"):
        ledger.append("", {})
    assert not (tmp_path / "l").exists()


# ---------------------------------------------------------------------------------- tampering


def test_edited_record_byte_detected(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    text = lines(ledger)
    text[1] = text[1].replace(b'"i":1', b'"i":7')
    rewrite(ledger, text)
    assert "entry 1 (line 2): hash mismatch" in problems(ledger)


def test_entry_rewritten_with_fresh_hash_breaks_the_next_link(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    text = lines(ledger)
    obj = json.loads(text[1])
    obj["record"]["ok"] = False
    obj["hash"] = entry_hash(obj)
    text[1] = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    rewrite(ledger, text)
    found = problems(ledger)
    assert "entry 2 (line 3): prev does not match" in found
    assert "entry 1" not in found


def test_reformatted_line_detected(tmp_path: Path) -> None:
    """Same JSON value, different bytes: still an edit of the ledger."""
    ledger = filled(tmp_path)
    text = lines(ledger)
    text[2] = text[2].replace(b'"ok":true', b'"ok": true')
    rewrite(ledger, text)
    assert "line 3: entry 2 is not in canonical form" in problems(ledger)


def test_deleted_middle_line_detected(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    text = lines(ledger)
    del text[1]
    rewrite(ledger, text)
    found = problems(ledger)
    assert "entry 2 (line 2): seq is 2, expected 1" in found
    assert "entry 2 (line 2): prev does not match" in found


def test_swapped_lines_detected(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    text = lines(ledger)
    text[1], text[2] = text[2], text[1]
    rewrite(ledger, text)
    found = problems(ledger)
    assert "entry 2 (line 2): seq is 2, expected 1" in found
    assert "entry 1 (line 3)" in found


def test_truncated_last_line_detected_via_head_file(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    rewrite(ledger, lines(ledger)[:-1])
    found = problems(ledger)
    assert "ledger.head records 4 entries" in found and "has 3" in found


def test_cut_inside_last_line_detected(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    ledger.path.write_bytes(ledger.path.read_bytes()[:-20])
    assert "line 4: incomplete last line" in problems(ledger)


def test_garbage_line_detected(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    text = lines(ledger)
    text.insert(2, b"not json at all\n")
    rewrite(ledger, text)
    assert "line 3: is not valid JSON" in problems(ledger)
    with pytest.raises(GateError, match=":3: is not valid JSON"):
        ledger.entries()


def test_missing_head_file_detected(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    ledger.head_path.unlink()
    assert "ledger.head is missing" in problems(ledger)


def test_expect_head_mismatch_detected(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    assert f"head is {ledger.head}, expected {'f' * 64}" in problems(ledger, expect_head="f" * 64)


def test_consistent_rewrite_is_caught_only_by_the_external_anchor(tmp_path: Path) -> None:
    """The documented limit: rewriting both files consistently passes the chain check."""
    honest = filled(tmp_path / "honest")
    anchor = honest.head
    forged = Ledger(tmp_path / "forged")
    for i in range(4):
        forged.append("verdict" if i % 2 else "apply", {"i": i, "files": [f"f{i}.py"], "ok": i != 2})
    for name in ("ledger.jsonl", "ledger.head"):
        (honest.directory / name).write_bytes((forged.directory / name).read_bytes())
    assert honest.verify().ok
    assert "expected " + anchor in problems(honest, expect_head=anchor)


# ---------------------------------------------------------------------------------- appends


def test_append_refuses_a_cut_ledger(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    rewrite(ledger, lines(ledger)[:-1])
    with pytest.raises(GateError, match="does not end where ledger.head says"):
        ledger.append("verdict", {})
    ledger.path.write_bytes(ledger.path.read_bytes()[:-5])
    with pytest.raises(GateError, match="incomplete line"):
        ledger.append("verdict", {})


def test_append_refuses_an_emptied_ledger(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    ledger.path.write_bytes(b"")
    assert "ledger.head records 4 entries" in problems(ledger)
    with pytest.raises(GateError, match="the ledger was emptied"):
        ledger.append("verdict", {})


def test_append_repairs_head_after_interrupted_append(tmp_path: Path) -> None:
    ledger = filled(tmp_path, 2)
    stale_head = ledger.head_path.read_bytes()
    ledger.append("verdict", {"i": 2})
    ledger.head_path.write_bytes(stale_head)  # as if killed between the line and the head update
    assert "an append was interrupted" in problems(ledger)
    ledger.append("verdict", {"i": 3})
    check = ledger.verify()
    assert check.ok and check.count == 4


def test_concurrent_appends_from_processes_stay_chained(tmp_path: Path) -> None:
    script = ("import sys\nfrom sandbox._ledger import Ledger\nledger = Ledger(sys.argv[1])\n"
              "for i in range(15):\n    ledger.append('verdict', {'worker': sys.argv[2], 'i': i})\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    workers = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(n)], env=env)
               for n in range(4)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    check = Ledger(tmp_path).verify()
    assert check.ok, check.problems
    assert check.count == 60


# ---------------------------------------------------------------------------------- property


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8)
records = st.dictionaries(st.text(max_size=6), json_values, max_size=4)


@st.composite
def tampering(draw: st.DrawFn, n: int) -> tuple[str, int, int, int]:
    kind = draw(st.sampled_from(["byte", "delete", "swap", "duplicate", "truncate"] if n > 1
                                else ["byte", "delete", "duplicate", "truncate"]))
    index = draw(st.integers(0, n - 1))
    other = draw(st.integers(0, n - 1).filter(lambda j: j != index)) if kind == "swap" else index
    return kind, index, other, draw(st.integers(0, 10**6))


def tamper(text: list[bytes], how: tuple[str, int, int, int]) -> list[bytes]:
    kind, index, other, salt = how
    text = list(text)
    if kind == "byte":
        line = bytearray(text[index])
        position = salt % (len(line) - 1)  # never the newline itself
        line[position] = (line[position] + 1 + salt % 255) % 256
        text[index] = bytes(line)
    elif kind == "delete":
        del text[index]
    elif kind == "swap":
        text[index], text[other] = text[other], text[index]
    elif kind == "duplicate":
        text.insert(index, text[index])
    else:
        del text[-1]
    return text


@settings(max_examples=60, deadline=None)
@given(data=st.data(), recs=st.lists(st.tuples(st.sampled_from(["verdict", "apply", "recover"]), records),
                                     min_size=1, max_size=6))
def test_any_single_tampering_is_detected(data: st.DataObject, recs: list[tuple[str, dict[str, Any]]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        ledger = Ledger(Path(directory))
        appended = [ledger.append(kind, record) for kind, record in recs]
        assert ledger.entries() == tuple(appended)
        assert ledger.verify(expect_head=appended[-1].hash).ok
        how = data.draw(tampering(len(appended)))
        rewrite(ledger, tamper(lines(ledger), how))
        assert not ledger.verify().ok, how


def test_tip_is_the_count_and_the_last_hash(tmp_path):
    ledger = Ledger(tmp_path / "l")
    assert ledger.tip() == (0, "0" * 64)
    entries = [ledger.append("verdict", {"n": n}) for n in range(3)]
    assert ledger.tip() == (3, entries[-1].hash) == (ledger.verify().count, ledger.head)
