"""The boundary miner: literals of both versions, neighbours, transforms, sizes, prefixes, regexes, pairs, bounds."""

from __future__ import annotations

import ast
import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from verifiers._values import MAX_NODES
from verifiers.pbt._boundaries import Mined, float_boundaries, int_boundaries, mine
from verifiers.pbt._mining import Resolver, module_constants, shapes
from verifiers.pbt._search import MAX_BOUNDARY_CASES, boundary_cases
from verifiers.pbt._signature import ModuleTypes
from verifiers.pbt._strategies import domain
from verifiers.pbt._triggers import MAX_SIZE, lengths, parsed_ints, regex_examples, structured, transforms

TYPES = ModuleTypes("train")


def fn(body: str, params: str = "x: int") -> str:
    return f"def f({params}):\n" + "".join(f"    {line}\n" for line in body.splitlines())


def dom(annotation: str, mined: Mined):
    return domain(ast.parse(annotation, mode="eval").body, TYPES, mined)


# ---- literals and neighbours -------------------------------------------------------------------

def test_literals_of_both_versions_are_mined_those_of_one_version_first():
    old = fn('return x in (1, 2, 3) or x == "s"')
    new = fn('return x in (1, 2, 3) or x == "s" or x == 918273 or x == b"\\x7f"')
    mined = mine([old, new], [])
    assert mined.numbers[0] == 918273 and set(mined.numbers) == {1, 2, 3, 918273}
    assert mined.strings == ["s"] and mined.blobs == [b"\x7f"]


def test_a_constant_changed_in_the_module_comes_first():
    source = fn("return x > LIMIT + 7")
    mined = mine([source, source], ["LIMIT = 1000\nOTHER = 5\n", "LIMIT = 2000\n"])
    assert set(mined.numbers[:4]) == {1007, 1000, 2007, 2000}  # the versions differ on these
    assert mined.numbers[4:] == [7] and 5 not in mined.numbers


def test_int_and_float_neighbours():
    mined = mine([fn("return x == 41 or x == 2.5")], [])
    assert {40, 41, 42, -41, 2, 3} <= set(int_boundaries(mined))
    floats = float_boundaries(mined)
    assert 2.5 in floats and math.nextafter(2.5, math.inf) in floats and math.nextafter(2.5, -math.inf) in floats


def test_parsed_ints_and_printed_ints_cross_between_str_and_int_parameters():
    mined = mine([fn('return str(x) == "8675309" or int(s) == 31337', "x: int, s: str")], [])
    assert 8675309 in dom("int", mined).boundaries
    assert "31337" in dom("str", mined).boundaries
    assert parsed_ints(["12", " 7 ", "x", "9" * 30]) == [12, 7]


def test_string_transforms():
    assert transforms(["Ab1"]) == ["1bA", "AB1", "ab1", "aB1"]
    assert transforms([b"Ab"]) == [b"bA", b"AB", b"ab", b"aB"]
    mined = mine([fn('return s[::-1] == "terces"', "s: str")], [])
    assert "secret" in dom("str", mined).boundaries


def test_each_parameter_gets_only_values_of_its_annotation():
    mined = mine([fn('return x == 7 or s == "seven" or b == b"7" or len(s) == 30', "x: int, s: str, b: bytes")], [])
    assert all(type(v) is int for v in dom("int", mined).boundaries)
    assert all(type(v) is str for v in dom("str", mined).boundaries)
    assert all(type(v) is bytes for v in dom("bytes", mined).boundaries)
    assert all(type(v) is list and all(type(i) is int for i in v) for v in dom("list[int]", mined).boundaries)
    assert dom("bool", mined).boundaries == (False, True)


# ---- sizes ----------------------------------------------------------------------------------

def test_sizes_from_len_slices_indices_ranges_and_module_constants():
    source = fn("if len(xs) == 7 or 9 < len(xs): pass\n"
                "for i in range(2, WIDTH): pass\n"
                "return xs[:3] + xs[-4:] + [xs[11]]", "xs: list[int]")
    tree = ast.parse(source)
    found = shapes(tree, Resolver(module_constants(ast.parse("WIDTH = 16\n"))))
    assert sorted(found.sizes) == [2, 3, 4, 7, 9, 12, 16]  # xs[11] needs a length of 12


def test_a_size_becomes_containers_of_that_length_one_past_and_one_below():
    mined = mine([fn("return len(xs) == 100", "xs: list[int]")], [])
    assert lengths([100]) == ([100, 101, 99], [])
    assert {len(v) for v in dom("list[int]", mined).boundaries} >= {99, 100, 101}
    assert [0] * 100 in dom("list[int]", mined).boundaries
    assert (0,) * 101 in dom("tuple[int, ...]", mined).boundaries
    assert "a" * 99 in dom("str", mined).boundaries and b"\x00" * 100 in dom("bytes", mined).boundaries


def test_sizes_beyond_what_workers_hold_are_skipped_with_a_note():
    mined = mine([fn(f"return len(xs) == 10**9 or len(xs) == {MAX_SIZE}", "xs: list[int]")], [])
    assert lengths(mined.sizes) == ([MAX_SIZE, MAX_SIZE - 1], [10**9, 10**9 + 1, 10**9 - 1, MAX_SIZE + 1])
    assert MAX_NODES // 4 == MAX_SIZE >= 20_000
    assert all(len(v) <= MAX_SIZE for v in dom("list[int]", mined).boundaries)
    assert mined.notes and "1000000000" in mined.notes[0] and str(MAX_SIZE) in mined.notes[0]


# ---- structured strings and regexes ----------------------------------------------------------

def test_prefix_followed_by_digits_reaches_the_measured_length():
    source = fn('return s.startswith("ckpt_") and s[5:].isdigit() and len(s) == 13', "s: str")
    mined = mine([source], [])
    assert mined.prefixes == ["ckpt_"]
    assert "ckpt_12345678" in dom("str", mined).boundaries
    assert structured(["p-"], [])[:4] == ["p-1", "p-12", "p-1234", "p-12345678"]


def test_structured_strings_come_with_near_misses_of_the_same_length():
    # Each part of `len(s) == 13 and s[:5] == "ckpt_" and s[5:].isdigit()` must be seen failing alone.
    out = structured(["ckpt_"], [13])
    assert "ckpt_12345678" in out
    assert "ckpt`12345678" in out  # the prefix's last character changed, the rest kept
    assert "ckpt_abcdefgh" in out  # the prefix kept, letters instead of digits


def test_slice_compared_with_a_literal_is_a_prefix():
    mined = mine([fn('return s[:4] == "v1.." and len(s) == 7', "s: str")], [])
    assert "v1..123" in dom("str", mined).boundaries


def test_regex_literals_give_full_matches():
    source = "def f(s: str, b: bytes):\n    return re.fullmatch(r'tok-[a-f]{6}-\\d{3}', s) or re.match(rb'\\x00\\d+', b)\n"
    mined = mine([source], [])
    assert mined.patterns == [r"tok-[a-f]{6}-\d{3}", rb"\x00\d+"]
    texts = [m for m in mined.matches if isinstance(m, str)]
    assert texts and all(re.fullmatch(r"tok-[a-f]{6}-\d{3}", t) for t in texts)
    assert any(isinstance(m, bytes) and re.fullmatch(rb"\x00\d+", m) for m in mined.matches)
    assert texts[0] in dom("str", mined).boundaries


def test_a_compiled_module_pattern_is_mined_and_unsafe_or_broken_patterns_are_skipped():
    source = fn("return PATTERN.match(s)", "s: str")
    mined = mine([source], ["import re\nPATTERN = re.compile(r'id=[0-9]{4}')\n"])
    assert mined.patterns == ["id=[0-9]{4}"] and all(re.fullmatch("id=[0-9]{4}", m) for m in mined.matches)
    assert regex_examples(["(a+)+$", "((", "x" * 500]) == []


def test_regex_examples_are_deterministic_and_bounded():
    first = regex_examples([r"[a-z]{3}\d", r"ab|cd"], per_pattern=3, seed=1)
    assert first == regex_examples([r"[a-z]{3}\d", r"ab|cd"], per_pattern=3, seed=1)
    assert len(first) <= 6


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 99))
def test_mining_inside_a_hypothesis_test_draws_no_regex_examples_but_works(n):
    mined = mine([fn(f'return re.match(r"k{n}-\\d+", s) or len(s) == {n}', "s: str")], [])
    assert mined.patterns and mined.matches == [] and n in mined.sizes


# ---- combinations and bounds --------------------------------------------------------------

def test_pairs_of_mined_values_are_tried_together():
    mined = mine([fn("return a == 1337 and b == 4242", "a: int, b: int")], [])
    a, b = dom("int", mined), dom("int", mined)
    cases = list(boundary_cases([a.boundaries, b.boundaries], [0, 0], [a.specific, b.specific]))
    assert (1337, 4242) in cases and (4242, 1337) in cases
    assert len(cases) == len(set(map(repr, cases))) <= MAX_BOUNDARY_CASES


def test_three_or_more_parameters_are_covered_pairwise_and_sampled_with_a_fixed_seed():
    values = [[10, 11, 12]] * 4
    cases = list(boundary_cases(values, [0, 0, 0, 0], values))
    pairs = {(i, j, c[i], c[j]) for c in cases for i in range(4) for j in range(i + 1, 4) if c[i] and c[j]}
    assert len(pairs) == 6 * 9  # every pair of values for every pair of parameters
    assert any(all(c) for c in cases)  # some whole rows from the sample
    assert cases == list(boundary_cases(values, [0, 0, 0, 0], values))


def test_the_number_of_cases_is_bounded_and_mining_is_deterministic():
    body = " or ".join(f"x == {k} or s == 'w{k}'" for k in range(200))
    source = fn(f"return len(s) == 50 or {body}", "x: int, s: str, y: int")
    first, second = mine([source], []), mine([source], [])
    assert vars(first) == vars(second) and len(first.numbers) <= 64 and len(first.strings) <= 64
    doms = [dom(a, first) for a in ("int", "str", "int")]
    assert all(len(d.boundaries) <= 64 and len(d.specific) <= 24 for d in doms)
    cases = list(boundary_cases([d.boundaries for d in doms], [0, "", 0], [d.specific for d in doms]))
    assert 300 < len(cases) <= MAX_BOUNDARY_CASES
    assert cases == list(boundary_cases([d.boundaries for d in doms], [0, "", 0], [d.specific for d in doms]))


def test_huge_and_odd_constants_do_not_break_the_domains():
    mined = mine([fn('return x == 10**40 or s == "1" * 30 or y == 1e308 * 10', "x: int, s: str, y: float")], [])
    assert 10**40 in dom("int", mined).boundaries and str(10**40) not in dom("str", mined).boundaries
    assert all(len(s) <= 64 for s in dom("str", mined).boundaries if s.isdigit())
    assert math.inf in dom("float", mined).boundaries
