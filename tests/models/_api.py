"""Messages API response objects written by hand in the exact shape the API returns."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)


def usage(input_tokens: int = 10, output_tokens: int = 5, cache_read: int = 0,
          cache_creation: int = 0) -> dict[str, Any]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_creation,
            "service_tier": "standard"}


def message(content: list[dict[str, Any]], stop_reason: str, used: dict[str, Any] | None = None,
            model: str = "claude-sonnet-4-5-20250929") -> dict[str, Any]:
    return {"id": f"msg_01{next(_ids):020d}", "type": "message", "role": "assistant",
            "model": model, "content": content, "stop_reason": stop_reason,
            "stop_sequence": None, "usage": used or usage()}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(tool_input: dict[str, Any], name: str = "str_replace_based_edit_tool",
             tool_id: str | None = None) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id or f"toolu_01{next(_ids):020d}", "name": name,
            "input": tool_input}


def editor(*calls: dict[str, Any], say: str = "") -> dict[str, Any]:
    """An assistant turn that calls the text editor once per call."""
    return message(([text(say)] if say else []) + [tool_use(call) for call in calls], "tool_use")


def done(say: str = "Done.") -> dict[str, Any]:
    return message([text(say)], "end_turn")


def error(kind: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": detail}}
