"""Claude's text editor tool, answered from the in-memory workspace: view, str_replace, create, insert."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from models._workspace import EditError, Listing, Workspace

__all__ = ["EDITOR_NAME", "EDITOR_TOOL", "run_editor"]

EDITOR_NAME = "str_replace_based_edit_tool"
EDITOR_TOOL: dict[str, str] = {"type": "text_editor_20250728", "name": EDITOR_NAME}


def run_editor(workspace: Workspace, command_input: object) -> tuple[str, bool]:
    """Carry out one tool call; return the tool_result text and whether it is an error.

    Never raises on what the model sent: a malformed call is answered with an error
    result the model can act on.
    """
    if not isinstance(command_input, Mapping):
        return "the tool input must be an object with a 'command' field", True
    command = command_input.get("command")
    handler = _COMMANDS.get(command) if isinstance(command, str) else None
    if handler is None:
        return (f"unknown command {command!r}; this editor supports "
                f"{', '.join(sorted(_COMMANDS))} (text_editor_20250728 has no undo_edit)"), True
    try:
        return handler(workspace, command_input), False
    except EditError as error:
        return f"{command}: {error}", True


def _view(workspace: Workspace, given: Mapping[str, Any]) -> str:
    path = workspace.path(_field(given, "path", str))
    content = workspace.read(path)
    if isinstance(content, Listing):
        if given.get("view_range") is not None:
            raise EditError(f"{path or '/repo'} is a directory; view_range applies to files")
        return "\n".join(f"/repo/{name}" for name in content.entries)
    lines = content.splitlines()
    first, last = _range(given.get("view_range"), len(lines))
    return "\n".join(f"{number:6}\t{lines[number - 1]}" for number in range(first, last + 1))


def _range(view_range: object, count: int) -> tuple[int, int]:
    if view_range is None:
        return 1, count
    if (not isinstance(view_range, list) or len(view_range) != 2
            or not all(type(bound) is int for bound in view_range)):
        raise EditError("view_range must be a list of two integers [start, end] (end -1: to the end)")
    first, last = view_range
    last = count if last == -1 else last
    if not 1 <= first <= max(count, 1) or not first <= last <= count:
        raise EditError(f"view_range {view_range} is outside the file's lines 1..{count}")
    return first, last


def _str_replace(workspace: Workspace, given: Mapping[str, Any]) -> str:
    path = workspace.path(_field(given, "path", str), "str_replace")
    text = workspace.text(path, "str_replace")
    old, new = _field(given, "old_str", str), given.get("new_str", "")
    if not isinstance(new, str):
        raise EditError("new_str must be a string")
    if not old:
        raise EditError("old_str is empty; give the exact text to replace")
    count = text.count(old)
    if count != 1:
        where = "" if count == 0 else " at lines " + ", ".join(
            str(line) for line in sorted({text.count("\n", 0, index) + 1
                                          for index in _occurrences(text, old)}))
        raise EditError(f"old_str occurs {count} times in {path}{where}; it must occur exactly "
                        "once: copy it exactly (whitespace included) and add context lines")
    index = text.index(old)
    workspace.write(path, text[:index] + new + text[index + len(old):], "str_replace")
    line = text.count("\n", 0, index) + 1
    return f"edited /repo/{path}: replaced the text at line {line} (in memory; nothing is written)"


def _occurrences(text: str, old: str) -> list[int]:
    found, start = [], text.find(old)
    while start >= 0:
        found.append(start)
        start = text.find(old, start + 1)
    return found


def _create(workspace: Workspace, given: Mapping[str, Any]) -> str:
    path = workspace.path(_field(given, "path", str), "create")
    file_text = _field(given, "file_text", str)
    if not path:
        raise EditError("create needs a file path, not the repository root")
    workspace.require_editable(path, "create")
    try:
        workspace.read(path)
    except EditError:
        workspace.write(path, file_text, "create")
        return f"created /repo/{path} ({len(file_text.splitlines())} lines, in memory)"
    raise EditError(f"/repo/{path} already exists; create cannot overwrite, use str_replace")


def _insert(workspace: Workspace, given: Mapping[str, Any]) -> str:
    path = workspace.path(_field(given, "path", str), "insert")
    text = workspace.text(path, "insert")
    line = given.get("insert_line")
    new = _field(given, "insert_text", str)
    lines = text.splitlines(keepends=True)
    if type(line) is not int or not 0 <= line <= len(lines):
        raise EditError(f"insert_line must be an integer from 0 (the top) to {len(lines)} "
                        f"(after the last line), got {line!r}")
    if lines and not lines[-1].endswith("\n") and line == len(lines):
        lines[-1] += "\n"
    addition = new if new.endswith("\n") or not new else new + "\n"
    workspace.write(path, "".join(lines[:line]) + addition + "".join(lines[line:]), "insert")
    return f"inserted {len(new.splitlines())} lines after line {line} of /repo/{path} (in memory)"


def _field(given: Mapping[str, Any], name: str, kind: type) -> Any:
    value = given.get(name)
    if not isinstance(value, kind):
        raise EditError(f"the field {name!r} is missing or not a {kind.__name__}")
    return value


_COMMANDS: dict[str, Callable[[Workspace, Mapping[str, Any]], str]] = {
    "view": _view, "str_replace": _str_replace, "create": _create, "insert": _insert,
}
