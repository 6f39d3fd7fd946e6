"""Claude as a proposer: one round is a multi-turn exchange whose edits become one Proposal."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import anthropic
import httpx2

from models._errors import BudgetExhausted, ProposerError
from models._proposal import Proposal, Usage
from models._task import Task
from models._workspace import EditError, Workspace
from models.claude._client import describe_error, make_client
from models.claude._editor import EDITOR_NAME, EDITOR_TOOL, run_editor
from models.claude._prompt import ANSWER_NAME, ANSWER_TOOL, first_message, system_blocks

__all__ = ["DEFAULT_MODEL", "Claude"]

DEFAULT_MODEL = "claude-sonnet-4-5"
_EPHEMERAL = {"type": "ephemeral"}
_CUT_OFF = ("Your reply was cut off at the max_tokens limit. Continue; make large edits in "
            "several smaller str_replace calls.")


class Claude:
    """Proposes through the Messages API (the official SDK), in one of two modes.

    ``mode="editor"``: Claude's text editor tool in a multi-turn exchange; ``view`` answers
    from the task's files as this round has edited them, edits accumulate in memory, and
    the proposal is complete when the model ends its turn. ``mode="structured"``: one
    forced call of a tool with a strict edit schema, re-asked (within ``max_turns``) while
    its edits do not apply. Budgets (``budget_tokens`` over all four token counts,
    ``budget_seconds`` of time spent proposing) are checked before every request and raise
    BudgetExhausted once spent. Without ``client`` it builds a live one (``make_client``)
    with the SDK's ``max_retries`` and ``timeout``; a given client keeps its own.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, client: anthropic.Anthropic | None = None,
                 mode: Literal["editor", "structured"] = "editor", max_turns: int = 20,
                 max_tokens: int = 8192, max_retries: int = 2, timeout: float = 120.0,
                 budget_tokens: int | None = None, budget_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if mode not in ("editor", "structured"):
            raise ValueError(f"mode must be 'editor' or 'structured', got {mode!r}")
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        self.model, self.mode, self.max_turns, self.max_tokens = model, mode, max_turns, max_tokens
        self._client = client if client is not None else make_client(
            max_retries=max_retries, timeout=timeout)
        self._budget_tokens, self._budget_seconds, self._clock = budget_tokens, budget_seconds, clock
        self.usage = Usage()
        self.rounds = 0
        self.seconds = 0.0
        self.last_rationale = ""

    def propose(self, task: Task) -> Proposal | None:
        """One round: the proposal the model completes, or None if it ends its turn without edits."""
        self.rounds += 1
        started = self._clock()
        try:
            return _Round(self, task, started).run()
        finally:
            self.seconds += self._clock() - started

    def _check_budget(self, where: str, started: float) -> float | None:
        """Raise BudgetExhausted if a budget is spent; return the seconds left (None: no cap)."""
        if self._budget_tokens is not None and self.usage.total_tokens >= self._budget_tokens:
            raise BudgetExhausted(f"{where}: the token budget is spent ({self.usage.total_tokens} "
                                  f"of {self._budget_tokens} tokens used, cache reads and writes "
                                  "included); raise --budget-tokens to continue")
        if self._budget_seconds is None:
            return None
        left = self._budget_seconds - self.seconds - (self._clock() - started)
        if left <= 0:
            raise BudgetExhausted(f"{where}: the time budget is spent ({self._budget_seconds:g} s "
                                  "of proposing); raise --budget-seconds to continue")
        return left


class _Round:
    """One round's exchange: its messages, its workspace, its usage (added to Claude's total)."""

    def __init__(self, owner: Claude, task: Task, started: float) -> None:
        self._owner, self._task, self._started = owner, task, started
        self._workspace = Workspace(task)
        self._messages: list[dict[str, Any]] = [first_message(task, owner.rounds)]
        self._usage = Usage()
        self._rationale = ""
        structured = owner.mode == "structured"
        self._request: dict[str, Any] = {
            "model": owner.model, "max_tokens": owner.max_tokens,
            "system": system_blocks(task, structured=structured),
            "tools": [ANSWER_TOOL] if structured else [EDITOR_TOOL],
        }
        if structured:
            self._request["tool_choice"] = {"type": "tool", "name": ANSWER_NAME}

    def run(self) -> Proposal | None:
        for turn in range(1, self._owner.max_turns + 1):
            where = f"claude round {self._owner.rounds}, turn {turn}"
            response = self._send(where)
            self._messages.append({"role": "assistant", "content": _assistant_content(response)})
            done, reply = (self._answer if self._owner.mode == "structured" else self._edit)(
                response, where)
            if done:
                return self._finish(response)
            if reply:
                self._messages.append({"role": "user", "content": reply})
        raise ProposerError(f"claude round {self._owner.rounds}: the model used all "
                            f"{self._owner.max_turns} turns without completing its proposal; "
                            "raise max_turns or give a narrower goal")

    def _send(self, where: str) -> anthropic.types.Message:
        left = self._owner._check_budget(where, self._started)
        client = self._owner._client
        options: dict[str, Any] = {}
        if left is not None:  # a request may not outlast the time budget
            configured = client.timeout if isinstance(client.timeout, (int, float)) else left
            options["timeout"] = min(configured, left)
        try:
            response = client.messages.create(
                **self._request, messages=_with_breakpoint(self._messages), **options)
        except (anthropic.AnthropicError, httpx2.HTTPError) as error:
            self._owner._check_budget(where, self._started)
            raise describe_error(error, model=self._owner.model, where=where) from error
        spent = _usage_of(response)
        self._usage += spent
        self._owner.usage += spent
        return response

    def _edit(self, response: anthropic.types.Message, where: str) -> tuple[bool, list[dict[str, Any]]]:
        reason = response.stop_reason
        if reason in ("end_turn", "stop_sequence"):
            return True, []
        if reason == "refusal":
            raise ProposerError(f"{where}: the model refused: {_text(response) or '(no text)'}")
        if reason == "model_context_window_exceeded":
            raise ProposerError(f"{where}: the exchange outgrew the model's context window; give "
                                "the task fewer or smaller files, or lower max_turns")
        results = [_result(block.id, *self._tool(block)) for block in response.content
                   if block.type == "tool_use"]
        if reason == "pause_turn":
            return False, results
        if reason == "max_tokens" and not results:
            results = [{"type": "text", "text": _CUT_OFF}]
        if not results:
            raise ProposerError(f"{where}: stop_reason {reason!r} with no tool call to answer; "
                                "this proposer handles end_turn, tool_use, max_tokens, pause_turn")
        return False, results

    def _tool(self, block: Any) -> tuple[str, bool]:
        if block.name != EDITOR_NAME:
            return f"there is no tool {block.name!r}; use {EDITOR_NAME}", True
        return run_editor(self._workspace, block.input)

    def _answer(self, response: anthropic.types.Message, where: str) -> tuple[bool, list[dict[str, Any]]]:
        calls = [block for block in response.content
                 if block.type == "tool_use" and block.name == ANSWER_NAME]
        if not calls:
            raise ProposerError(f"{where}: the forced {ANSWER_NAME} call is missing "
                                f"(stop_reason {response.stop_reason!r}); raise max_tokens if the "
                                "answer was cut off")
        problems = _apply_answer(self._workspace, calls[0].input)
        if not problems:
            self._rationale = str(calls[0].input.get("rationale", ""))
            return True, []
        self._workspace = _fresh(self._task, self._workspace)
        text = "The edits were not applied, none of them:\n" + "\n".join(problems) + \
            f"\nCall {ANSWER_NAME} again with the whole corrected list."
        return False, [_result(calls[0].id, text, True)]

    def _finish(self, response: anthropic.types.Message) -> Proposal | None:
        rationale = self._rationale or _text(response)
        self._owner.last_rationale = rationale
        files, outside = self._workspace.changes(), tuple(self._workspace.outside)
        if not files and not outside:
            return None
        return Proposal(source=f"claude:{self._owner.model} round {self._owner.rounds}",
                        files=files, rationale=rationale, usage=self._usage, outside=outside)


def _apply_answer(workspace: Workspace, answer: object) -> list[str]:
    edits = answer.get("edits") if isinstance(answer, dict) else None
    if not isinstance(edits, list) or not edits:
        return ["the answer must have a non-empty 'edits' list of {path, old_str, new_str}"]
    problems = []
    for number, edit in enumerate(edits, 1):
        message = _apply_one(workspace, edit)
        if message:
            problems.append(f"edit {number}: {message}")
    return problems


def _apply_one(workspace: Workspace, edit: object) -> str | None:
    if not isinstance(edit, dict) or not all(isinstance(edit.get(k), str)
                                             for k in ("path", "old_str", "new_str")):
        return "each edit needs string fields path, old_str and new_str"
    command = ({"command": "create", "path": edit["path"], "file_text": edit["new_str"]}
               if edit["old_str"] == "" else {"command": "str_replace", **edit})
    text, is_error = run_editor(workspace, command)
    return text if is_error else None


def _fresh(task: Task, old: Workspace) -> Workspace:
    """A clean workspace that keeps the refused attempts of the rejected answer."""
    workspace = Workspace(task)
    workspace.outside.extend(old.outside)
    return workspace


def _usage_of(response: anthropic.types.Message) -> Usage:
    usage = response.usage
    return Usage(usage.input_tokens or 0, usage.output_tokens or 0,
                 usage.cache_read_input_tokens or 0, usage.cache_creation_input_tokens or 0, 1)


def _text(response: anthropic.types.Message) -> str:
    return "\n".join(block.text for block in response.content if block.type == "text").strip()


def _assistant_content(response: anthropic.types.Message) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    for block in response.content:
        if block.type == "text":
            content.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            content.append({"type": "tool_use", "id": block.id, "name": block.name,
                            "input": block.input})
        else:  # thinking blocks and the like go back exactly as they came
            content.append(block.model_dump(mode="json", exclude_none=True))
    return content


def _result(tool_use_id: str, text: str, is_error: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": text}
    if is_error:
        result["is_error"] = True
    return result


def _with_breakpoint(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with a cache breakpoint on the last block, so the next turn reads the prefix."""
    out = list(messages)
    last = out[-1]
    if last["role"] == "user" and isinstance(last["content"], list) and last["content"]:
        blocks = list(last["content"])
        blocks[-1] = {**blocks[-1], "cache_control": _EPHEMERAL}
        out[-1] = {**last, "content": blocks}
    return out
