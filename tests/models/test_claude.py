"""Claude through the real SDK code path, served recorded responses by a MockTransport: no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models import Attempt, BudgetExhausted, ProposerError, Task, Usage
from models.claude import Claude, Replay, make_client
from tests.models import _api as api

FIXTURES = Path(__file__).parent / "fixtures"
TRAIN = "def total(xs):\n    total = 0\n    for x in xs:\n        total = total + x\n    return total\n"
TASK = Task(goal="make total() faster", files={"train.py": TRAIN, "eval.py": "SCORE = 1\n"},
            editable=("train.py", "lib/"), properties="total(xs) == old total(xs) for float lists")


def claude(responses, **options):
    replay = Replay(responses)
    return Claude(client=replay.client(), **options), replay


def results(request):
    """The tool_result blocks of the last user message a request carried."""
    return [block for block in request["messages"][-1]["content"] if block["type"] == "tool_result"]


def test_editor_round_view_then_str_replace_then_end_turn():
    proposer, replay = claude(FIXTURES / "editor_round.json")
    proposal = proposer.propose(TASK)
    assert dict(proposal.files) == {"train.py": "def total(xs):\n    total = 0\n    return sum(xs)\n"}
    assert proposal.rationale.startswith("Replaced the Python loop")
    assert proposal.outside == () and proposal.source == "claude:claude-sonnet-4-5 round 1"
    first, second, third = replay.requests
    assert first["model"] == "claude-sonnet-4-5" and "tool_choice" not in first
    assert first["tools"] == [{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}]
    rules, context = first["system"]
    assert "cache_control" not in rules and context["cache_control"] == {"type": "ephemeral"}
    assert "make total() faster" in context["text"] and TRAIN in context["text"]
    assert "total(xs) == old total(xs)" in context["text"] and "- lib/" in context["text"]
    [viewed] = results(second)
    assert viewed["tool_use_id"] == "toolu_01A09q90qw90lq917835lq9" and "is_error" not in viewed
    assert viewed["content"].splitlines()[2] == "     3\t    for x in xs:"
    assert viewed["cache_control"] == {"type": "ephemeral"}  # the moving breakpoint
    assert "cache_control" not in json.dumps(third["messages"][:-1])  # at most one on messages
    assert second["messages"][1]["content"][1]["input"] == {"command": "view", "path": "/repo/train.py"}
    [edited] = results(third)
    assert "is_error" not in edited and "line 3" in edited["content"]
    assert replay.remaining == 0


def test_usage_is_summed_per_round_and_in_total_with_cache_fields():
    second_round = [api.editor({"command": "create", "path": "lib/fast.py", "file_text": "X = 1\n"}),
                    api.message([api.text("ok")], "end_turn", api.usage(5, 6, 7, 8))]
    responses = json.loads((FIXTURES / "editor_round.json").read_text()) + second_round
    proposer, _ = claude(responses)
    first = proposer.propose(TASK)
    assert first.usage == Usage(1290, 155, 4246, 2198, 3)
    second = proposer.propose(TASK)
    assert second.usage == Usage(15, 11, 7, 8, 2)
    assert proposer.usage == first.usage + second.usage and proposer.usage.requests == 5
    assert proposer.usage.total_tokens == 1305 + 166 + 4253 + 2206


def test_create_and_insert_accumulate_in_memory_and_never_touch_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    proposer, replay = claude([
        api.editor({"command": "create", "path": "/repo/lib/util.py", "file_text": "def one():\n    return 1"}),
        api.editor({"command": "insert", "path": "train.py", "insert_line": 0,
                    "insert_text": "from lib.util import one"},
                   {"command": "view", "path": "/repo/lib/util.py"}),
        api.done("Added a helper."),
    ])
    proposal = proposer.propose(TASK)
    assert dict(proposal.files) == {"lib/util.py": "def one():\n    return 1",
                                    "train.py": "from lib.util import one\n" + TRAIN}
    inserted, viewed = results(replay.requests[2])
    assert "after line 0" in inserted["content"] and "is_error" not in inserted
    assert viewed["content"] == "     1\tdef one():\n     2\t    return 1"  # views see this round's edits
    assert list(tmp_path.iterdir()) == []


def test_edit_outside_the_editable_paths_is_refused_answered_and_recorded():
    proposer, replay = claude([
        api.editor({"command": "str_replace", "path": "/repo/eval.py", "old_str": "SCORE = 1",
                    "new_str": "SCORE = 100"}),
        api.editor({"command": "create", "path": "tests/test_x.py", "file_text": "pass\n"},
                   {"command": "str_replace", "path": "train.py", "old_str": "total = 0",
                    "new_str": "total = 0.0"}),
        api.done(),
    ])
    proposal = proposer.propose(TASK)
    assert dict(proposal.files) == {"train.py": TRAIN.replace("total = 0", "total = 0.0")}
    assert proposal.outside == (Attempt("eval.py", "str_replace"), Attempt("tests/test_x.py", "create"))
    [refused] = results(replay.requests[1])
    assert refused["is_error"] is True
    assert "eval.py is outside the editable paths of this task (train.py, lib/)" in refused["content"]
    created, replaced = results(replay.requests[2])
    assert created["is_error"] is True and "is_error" not in replaced


def test_a_round_that_only_touches_protected_paths_still_returns_the_attempts():
    proposer, _ = claude([
        api.editor({"command": "str_replace", "path": "eval.py", "old_str": "1", "new_str": "9"}),
        api.done("I raised the score."),
    ])
    proposal = proposer.propose(TASK)
    assert dict(proposal.files) == {} and proposal.outside == (Attempt("eval.py", "str_replace"),)
    with pytest.raises(ValueError, match="only tried to edit paths outside the editable ones"):
        proposal.to_patch()


@pytest.mark.parametrize("call, expected", [
    ({"command": "str_replace", "path": "train.py", "old_str": "total"}, "occurs 5 times in train.py at lines 1, 2, 4, 5"),
    ({"command": "str_replace", "path": "train.py", "old_str": "nothing like this", "new_str": ""}, "occurs 0 times"),
    ({"command": "view", "path": "/etc/passwd"}, "is absolute"),
    ({"command": "view", "path": "../secrets"}, "'..' component"),
    ({"command": "view", "path": "missing.py"}, "not a file or directory this task lets you read"),
    ({"command": "create", "path": "train.py", "file_text": "x"}, "already exists"),
    ({"command": "insert", "path": "train.py", "insert_line": 99, "insert_text": "x"}, "insert_line must be"),
    ({"command": "insert", "path": "train.py", "insert_line": "1", "insert_text": "x"}, "insert_line must be"),
    ({"command": "undo_edit", "path": "train.py"}, "text_editor_20250728 has no undo_edit"),
    ({"command": "create", "path": "lib/x.py"}, "'file_text' is missing"),
    ({"path": "train.py"}, "unknown command None"),
    ({"command": "view", "path": "train.py", "view_range": [3, 1]}, "outside the file's lines 1..5"),
])
def test_malformed_or_failing_calls_become_error_results_not_crashes(call, expected):
    proposer, replay = claude([api.editor(call), api.done()])
    assert proposer.propose(TASK) is None  # nothing changed: the model proposes nothing
    [answer] = results(replay.requests[1])
    assert answer["is_error"] is True and expected in answer["content"]


def test_view_lists_directories_and_ranges():
    proposer, replay = claude([
        api.editor({"command": "view", "path": "/repo"}, {"command": "view", "path": "train.py",
                                                          "view_range": [4, -1]}),
        api.done(),
    ])
    assert proposer.propose(TASK) is None
    listing, ranged = results(replay.requests[1])
    assert listing["content"] == "/repo/eval.py\n/repo/train.py"
    assert ranged["content"] == "     4\t        total = total + x\n     5\t    return total"


def test_structured_mode_forces_one_tool_call_with_a_strict_schema():
    answer = {"rationale": "use sum", "edits": [
        {"path": "train.py", "old_str": "    for x in xs:\n        total = total + x\n    return total\n",
         "new_str": "    return sum(xs, total)\n"},
        {"path": "lib/new.py", "old_str": "", "new_str": "Y = 2\n"}]}
    proposer, replay = claude([api.message([api.tool_use(answer, name="propose_edits")], "tool_use")],
                              mode="structured")
    proposal = proposer.propose(TASK)
    assert dict(proposal.files) == {"lib/new.py": "Y = 2\n",
                                    "train.py": "def total(xs):\n    total = 0\n    return sum(xs, total)\n"}
    assert proposal.rationale == "use sum"
    [request] = replay.requests
    assert request["tool_choice"] == {"type": "tool", "name": "propose_edits"}
    [tool] = request["tools"]
    assert tool["name"] == "propose_edits" and tool["strict"] is True
    schema = tool["input_schema"]
    assert schema["additionalProperties"] is False and schema["required"] == ["rationale", "edits"]
    assert schema["properties"]["edits"]["items"]["required"] == ["path", "old_str", "new_str"]
    assert request["system"][1]["cache_control"] == {"type": "ephemeral"}


def test_structured_answer_that_does_not_apply_is_sent_back_whole():
    bad = {"rationale": "r", "edits": [
        {"path": "train.py", "old_str": "total = 0", "new_str": "total = 0.0"},
        {"path": "eval.py", "old_str": "SCORE = 1", "new_str": "SCORE = 2"}]}
    good = {"rationale": "fixed", "edits": [bad["edits"][0]]}
    proposer, replay = claude([
        api.message([api.tool_use(bad, name="propose_edits", tool_id="toolu_bad")], "tool_use"),
        api.message([api.tool_use(good, name="propose_edits")], "tool_use")], mode="structured")
    proposal = proposer.propose(TASK)
    assert dict(proposal.files) == {"train.py": TRAIN.replace("total = 0", "total = 0.0")}
    assert proposal.outside == (Attempt("eval.py", "str_replace"),) and proposal.rationale == "fixed"
    [answer] = results(replay.requests[1])
    assert answer["tool_use_id"] == "toolu_bad" and answer["is_error"] is True
    assert "none of them" in answer["content"] and "edit 2: str_replace: eval.py is outside" in answer["content"]
    assert replay.requests[1]["tool_choice"] == {"type": "tool", "name": "propose_edits"}


def test_the_turn_cap_stops_a_round_that_never_ends():
    view = {"command": "view", "path": "train.py"}
    proposer, _ = claude([api.editor(view), api.editor(view)], max_turns=2)
    with pytest.raises(ProposerError, match="used all 2 turns without completing its proposal"):
        proposer.propose(TASK)


def test_the_token_budget_stops_before_the_next_request():
    proposer, replay = claude(FIXTURES / "editor_round.json", budget_tokens=3000)
    with pytest.raises(BudgetExhausted, match=r"token budget is spent \(3288 of 3000 tokens"):
        proposer.propose(TASK)
    assert len(replay.requests) == 1


def test_the_time_budget_stops_with_a_clear_reason():
    ticks = iter([0.0, 0.0, 5.0, 11.0, 11.0])
    proposer, replay = claude(FIXTURES / "editor_round.json", budget_seconds=10,
                              clock=lambda: next(ticks))
    with pytest.raises(BudgetExhausted, match="time budget is spent"):
        proposer.propose(TASK)
    assert len(replay.requests) == 2 and replay.requests[1]["messages"]  # the third was never sent


def test_a_budget_within_limits_does_not_stop():
    proposer, _ = claude(FIXTURES / "editor_round.json", budget_tokens=10_000, budget_seconds=60)
    assert proposer.propose(TASK).paths == ("train.py",)


@pytest.mark.parametrize("status_body, expected", [
    (api.error("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
     "HTTP 429 rate limited after the SDK's retries"),
    (api.error("api_error", "Internal server error"), "HTTP 500 the API failed or is overloaded"),
    (api.error("overloaded_error", "Overloaded"), "HTTP 529 the API failed or is overloaded"),
    (api.error("authentication_error", "invalid x-api-key"),
     "HTTP 401 the API key was refused; check it, or set ANTHROPIC_API_KEY or use --replay FILE"),
    (api.error("invalid_request_error", "max_tokens: too large"), "HTTP 400 the API rejected the request"),
    (api.error("not_found_error", "model: claude-nope"), "HTTP 404 not found; check the model name"),
])
def test_sdk_errors_map_to_one_clear_error(status_body, expected):
    proposer, _ = claude([status_body])
    with pytest.raises(ProposerError) as raised:
        proposer.propose(TASK)
    message = str(raised.value)
    assert message.startswith("claude round 1, turn 1: model 'claude-sonnet-4-5': ")
    assert expected in message and status_body["error"]["message"] in message
    assert "request id replay-1" in message


def test_a_429_then_success_is_retried_by_the_sdk():
    replay = Replay([api.error("rate_limit_error", "slow down"), api.done("nothing to do")])
    proposer = Claude(client=replay.client(max_retries=1))
    assert proposer.propose(TASK) is None and proposer.last_rationale == "nothing to do"
    assert len(replay.requests) == 2 and replay.requests[0] == replay.requests[1]


def test_a_connection_failure_is_described():
    import httpx2

    import anthropic

    def refuse(request):
        raise httpx2.ConnectError("connection refused")

    client = anthropic.Anthropic(api_key="k", max_retries=0,
                                 http_client=httpx2.Client(transport=httpx2.MockTransport(refuse)))
    with pytest.raises(ProposerError, match="cannot reach the API; check the network"):
        Claude(client=client).propose(TASK)


def test_a_missing_api_key_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ProposerError, match="set ANTHROPIC_API_KEY or use --replay FILE"):
        Claude()
    with pytest.raises(ProposerError, match="set ANTHROPIC_API_KEY"):
        make_client(record="x.json")


def test_a_live_client_uses_the_sdk_retries_and_timeout(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    client = make_client(max_retries=5, timeout=7.5)
    assert client.max_retries == 5 and client.timeout == 7.5


def test_a_timeout_is_described_after_the_sdk_gives_up():
    import httpx2

    import anthropic

    def stall(request):
        raise httpx2.ReadTimeout("read timed out", request=request)

    client = anthropic.Anthropic(api_key="k", max_retries=0,
                                 http_client=httpx2.Client(transport=httpx2.MockTransport(stall)))
    with pytest.raises(ProposerError, match="the request timed out after the SDK's retries; raise timeout"):
        Claude(client=client).propose(TASK)


def test_a_call_of_an_unknown_tool_is_answered_with_an_error():
    proposer, replay = claude([api.message([api.tool_use({"cmd": "ls"}, name="bash")], "tool_use"),
                               api.done()])
    assert proposer.propose(TASK) is None
    [answer] = results(replay.requests[1])
    assert answer["is_error"] is True and "there is no tool 'bash'" in answer["content"]


@pytest.mark.parametrize("reason, expected", [
    ("refusal", "the model refused: I will not"),
    ("model_context_window_exceeded", "outgrew the model's context window"),
])
def test_stop_reasons_that_end_a_round_without_a_proposal(reason, expected):
    proposer, _ = claude([api.message([api.text("I will not")], reason)])
    with pytest.raises(ProposerError, match=expected):
        proposer.propose(TASK)


def test_a_reply_cut_at_max_tokens_is_asked_to_continue():
    proposer, replay = claude([api.message([api.text("Let me")], "max_tokens"),
                               api.editor({"command": "str_replace", "path": "train.py",
                                           "old_str": "total = 0", "new_str": "total = 0.0"}),
                               api.done()])
    assert proposer.propose(TASK).paths == ("train.py",)
    [prompt] = replay.requests[1]["messages"][-1]["content"]
    assert prompt["type"] == "text" and "cut off at the max_tokens limit" in prompt["text"]


def test_feedback_of_earlier_rounds_is_sent_after_the_cached_context():
    task = Task(goal="g", files={"train.py": TRAIN}, editable=("train.py",),
                feedback=("REFUTED: total([0.1, 0.2]) old 0.3 new 0.30000000000000004",))
    proposer, replay = claude([api.done("nothing")])
    assert proposer.propose(task) is None
    [request] = replay.requests
    [opening] = request["messages"][0]["content"]
    assert "REFUTED: total([0.1, 0.2])" in opening["text"] and "--- round feedback 1 ---" in opening["text"]
    assert "REFUTED" not in request["system"][1]["text"]  # the cached prefix stays the same across rounds


@pytest.mark.parametrize("hostile, recorded", [
    ("/repo/eval.py", "eval.py"),
    ("/repo//eval.py", "eval.py"),
    ("./lib/../eval.py", "./lib/../eval.py"),
    ("/repo/../repo/eval.py", "/repo/../repo/eval.py"),
    ("/work/main/eval.py", "/work/main/eval.py"),
    ("/repo/.git/hooks/pre-commit", "/repo/.git/hooks/pre-commit"),
    ("LIB/x.py", "LIB/x.py"),
    ("train.py.orig", "train.py.orig"),
    ("library/x.py", "library/x.py"),
])
def test_red_team_writes_outside_the_editable_tree_are_refused_and_recorded(hostile, recorded):
    proposer, replay = claude([api.editor({"command": "create", "path": hostile, "file_text": "x\n"}),
                               api.done()])
    proposal = proposer.propose(TASK)
    assert dict(proposal.files) == {} and [a.path for a in proposal.outside] == [recorded]
    [answer] = results(replay.requests[1])
    assert answer["is_error"] is True


@pytest.mark.parametrize("benign", ["/repo/lib/x.py", "lib/x.py", "./lib/sub/x.py", "/repo/lib//x.py"])
def test_benign_look_alikes_inside_the_editable_tree_are_accepted(benign):
    proposer, _ = claude([api.editor({"command": "create", "path": benign, "file_text": "x\n"}),
                          api.done()])
    proposal = proposer.propose(TASK)
    assert proposal.outside == () and list(proposal.files.values()) == ["x\n"]
    assert all(path.startswith("lib/") for path in proposal.files)


def test_a_request_may_not_outlast_the_time_budget():
    import httpx2

    import anthropic

    timeouts = []

    def serve(request):
        timeouts.append(request.extensions["timeout"]["read"])
        return httpx2.Response(200, json=api.done("nothing"))

    client = anthropic.Anthropic(api_key="k", max_retries=0, timeout=120.0,
                                 http_client=httpx2.Client(transport=httpx2.MockTransport(serve)))
    assert Claude(client=client, budget_seconds=30, clock=lambda: 0.0).propose(TASK) is None
    assert Claude(client=client).propose(TASK) is None
    assert timeouts == [30, 120.0]


def test_the_proposal_is_a_patch_the_gate_resolves_against_the_tree(tmp_path):
    from sandbox._patch import Patch

    (tmp_path / "train.py").write_text(TRAIN)
    proposer, _ = claude(FIXTURES / "editor_round.json")
    [change] = Patch.load(proposer.propose(TASK).to_patch()).resolve(tmp_path)
    assert change.path == "train.py" and change.before_text == TRAIN
    assert change.after_text == "def total(xs):\n    total = 0\n    return sum(xs)\n"
    assert (tmp_path / "train.py").read_text() == TRAIN  # resolving reads only
