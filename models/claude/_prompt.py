"""What Claude is sent: instructions, the cached static context, the round's feedback, the edit schema."""

from __future__ import annotations

from typing import Any

from models._task import Task

__all__ = ["ANSWER_NAME", "ANSWER_TOOL", "first_message", "system_blocks"]

ANSWER_NAME = "propose_edits"

_EDITOR_RULES = """You improve code in a repository mounted at /repo, toward the goal below.
Use the str_replace_based_edit_tool to view files and to edit them. Edits are kept in memory and
form one proposal; a verification gate then checks the proposal against the properties below,
and rejects changes that break them. Edit only the editable paths listed. When the proposal is
complete, stop calling tools and reply with a short rationale: what you changed and why it meets
the goal without breaking the properties. If nothing should change, make no edit and say why."""

_ANSWER_RULES = f"""You improve code in a repository toward the goal below. Answer with one call
of the {ANSWER_NAME} tool: a rationale and a list of edits. Each edit replaces old_str, which
must occur exactly once in the file as shown, by new_str; an empty old_str creates a new file
whose text is new_str. A verification gate checks the proposal against the properties below.
Edit only the editable paths listed."""

ANSWER_TOOL: dict[str, Any] = {
    "name": ANSWER_NAME,
    "description": "Propose one change to the repository as a list of exact-text replacements.",
    "strict": True,
    "input_schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["rationale", "edits"],
        "properties": {
            "rationale": {"type": "string", "description": "What the change does and why."},
            "edits": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["path", "old_str", "new_str"],
                    "properties": {
                        "path": {"type": "string", "description": "Repository-relative path."},
                        "old_str": {"type": "string", "description": "Exact text, once in the "
                                    "file; empty to create a new file."},
                        "new_str": {"type": "string", "description": "The replacement text."},
                    },
                },
            },
        },
    },
}


def system_blocks(task: Task, *, structured: bool) -> list[dict[str, Any]]:
    """The system prompt: the rules, then the static context marked for prompt caching.

    The tools precede the system prompt in the cache prefix, so this one breakpoint covers
    the tool definitions, the rules and the context; only the per-round messages after it
    are new input.
    """
    rules = _ANSWER_RULES if structured else _EDITOR_RULES
    return [{"type": "text", "text": rules},
            {"type": "text", "text": _context(task), "cache_control": {"type": "ephemeral"}}]


def first_message(task: Task, round_number: int) -> dict[str, Any]:
    """The round's opening user message: the feedback of earlier rounds (never cached)."""
    if task.feedback:
        parts = [f"Round {round_number}. The gate's answers to earlier rounds, oldest first:"]
        parts += [f"--- round feedback {number} ---\n{text}"
                  for number, text in enumerate(task.feedback, 1)]
        parts.append("Propose a change that addresses this feedback.")
    else:
        parts = [f"Round {round_number}. Propose a change toward the goal."]
    if task.candidates > 1:
        parts.append(f"This is candidate {task.candidate} of {task.candidates} this round: make it a different "
                     "attempt from the round's other candidates.")
    return {"role": "user", "content": [{"type": "text", "text": "\n\n".join(parts)}]}


def _context(task: Task) -> str:
    editable = "\n".join(f"- {pattern}" for pattern in task.editable) or "- (none)"
    files = "\n\n".join(f'<file path="/repo/{path}">\n{text}\n</file>'
                        for path, text in sorted(task.files.items())) or "(no files given)"
    return (f"<goal>\n{task.goal}\n</goal>\n\n<editable>\n{editable}\n</editable>\n\n"
            f"<properties>\n{task.properties or '(none stated)'}\n</properties>\n\n"
            f"<files>\n{files}\n</files>")
