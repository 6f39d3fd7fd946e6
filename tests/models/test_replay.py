"""Replay serves recorded responses through the SDK's HTTP layer; Recorder writes them from a live run."""

from __future__ import annotations

import json

import httpx2
import pytest

from models import ProposerError, Task
from models.claude import Claude, Recorder, Replay, ReplayExhausted, make_client
from tests.models import _api as api

TASK = Task(goal="tidy", files={"a.py": "X = 1\n"}, editable=("a.py",))
ROUND = [api.editor({"command": "str_replace", "path": "a.py", "old_str": "X = 1", "new_str": "X = 2"}),
         api.done("bumped")]


def test_running_out_of_recorded_responses_is_a_clear_error(tmp_path):
    path = tmp_path / "short.json"
    path.write_text(json.dumps(ROUND[:1]))
    proposer = Claude(client=make_client(replay=path))
    with pytest.raises(ProposerError) as raised:
        proposer.propose(TASK)
    message = str(raised.value)
    assert message.startswith("claude round 1, turn 2: the replay ")
    assert f"{path} holds 1 recorded responses and the run asked for response 2" in message
    assert "record a longer run with --record FILE" in message


def test_exhaustion_is_not_retried_by_the_sdk():
    replay = Replay([])
    with pytest.raises(ReplayExhausted):
        replay.client(max_retries=3).messages.create(model="m", max_tokens=1, messages=[
            {"role": "user", "content": "hi"}])
    assert replay.requests == []


@pytest.mark.parametrize("content, expected", [
    ("{not json", "is not JSON"),
    ('{"type": "message"}', "holds a JSON array"),
    ('[{"content": []}]', "element 1 is neither a Messages API response"),
])
def test_a_malformed_replay_file_is_refused(tmp_path, content, expected):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ProposerError, match=expected):
        Replay(path)


def test_a_missing_replay_file_is_refused(tmp_path):
    with pytest.raises(ProposerError, match="cannot read the replay file"):
        Replay(tmp_path / "absent.json")


def test_replay_and_record_exclude_each_other(tmp_path):
    with pytest.raises(ProposerError, match="exclude each other"):
        make_client(replay=tmp_path / "a.json", record=tmp_path / "b.json")


def test_recorder_writes_the_file_replay_serves(tmp_path, monkeypatch):
    """A MockTransport stands in for the live API; the recording replays to the same proposal."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-live-stand-in")
    live = iter([api.error("overloaded_error", "Overloaded"), *ROUND])
    seen = []

    def api_server(request):
        seen.append(request.headers["authorization"])
        body = next(live)
        status = 529 if body["type"] == "error" else 200
        return httpx2.Response(status, json=body, headers={"retry-after-ms": "1"})

    path = tmp_path / "rec" / "run.json"
    recorder = Recorder(path, transport=httpx2.MockTransport(api_server))
    live_proposal = Claude(client=recorder.client(max_retries=1)).propose(TASK)
    assert seen == ["Bearer sk-live-stand-in"] * 3  # the key came from the environment
    recorded = json.loads(path.read_text())
    assert recorded[0] == api.error("overloaded_error", "Overloaded") and recorded[1:] == ROUND
    replay = Replay(path)
    replayed = Claude(client=replay.client(max_retries=1)).propose(TASK)
    assert replayed.files == live_proposal.files == {"a.py": "X = 2\n"}
    assert replayed.usage == live_proposal.usage and replay.remaining == 0


def test_replay_serves_only_the_messages_endpoint():
    replay = Replay(ROUND)
    with pytest.raises(ReplayExhausted, match="serves only POST /v1/messages"):
        replay.client().models.list()
