"""Recorded Messages API responses served through the SDK's own HTTP layer, and their recording."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anthropic
import httpx2

from models._errors import ProposerError

__all__ = ["Recorder", "Replay", "ReplayExhausted"]

# The API's error types and their HTTP statuses, so a recorded error body replays as the same error.
_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
           "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
           "rate_limit_error": 429, "api_error": 500, "timeout_error": 504,
           "overloaded_error": 529}
_MESSAGES_PATH = "/v1/messages"


class ReplayExhausted(anthropic.AnthropicError):
    """The run asked for more responses than were recorded.

    An ``AnthropicError`` so the SDK passes it through unwrapped and does not retry it.
    """


class Replay:
    """Serves a JSON array of Messages API responses, in order, exactly as the API returned them.

    An element that is an error body (``{"type": "error", "error": {"type": ...}}``) is
    served with the HTTP status of its error type, so the SDK raises (or retries) as it
    would live. ``requests`` holds every request body the SDK sent, for inspection.
    """

    def __init__(self, source: str | os.PathLike[str] | Sequence[dict[str, Any]]) -> None:
        self.name = "<inline>" if not isinstance(source, (str, os.PathLike)) else os.fspath(source)
        self._responses = _load(source) if isinstance(source, (str, os.PathLike)) else list(source)
        _check(self._responses, self.name)
        self.requests: list[dict[str, Any]] = []
        self.transport = httpx2.MockTransport(self._serve)

    @property
    def remaining(self) -> int:
        """How many recorded responses have not been served yet."""
        return len(self._responses) - len(self.requests)

    def client(self, *, max_retries: int = 0, timeout: float = 120.0) -> anthropic.Anthropic:
        """An SDK client whose transport is this replay (no network, a placeholder key)."""
        return anthropic.Anthropic(api_key="replay", max_retries=max_retries, timeout=timeout,
                                   http_client=httpx2.Client(transport=self.transport))

    def _serve(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path != _MESSAGES_PATH:
            raise ReplayExhausted(f"the replay of {self.name} serves only POST {_MESSAGES_PATH}, "
                                  f"not {request.method} {request.url.path}")
        if self.remaining <= 0:
            raise ReplayExhausted(f"the replay {self.name} holds {len(self._responses)} recorded "
                                  f"responses and the run asked for response "
                                  f"{len(self._responses) + 1}; record a longer run with --record "
                                  "FILE, or lower the rounds or turns")
        self.requests.append(json.loads(request.content or b"{}"))
        body = self._responses[len(self.requests) - 1]
        status = _STATUS.get(body["error"].get("type"), 500) if body.get("type") == "error" else 200
        # Replays reproduce content, not timing: a retried error is retried at once.
        headers = {"request-id": f"replay-{len(self.requests)}", "retry-after-ms": "1"}
        return httpx2.Response(status, json=body, headers=headers)


class Recorder(httpx2.BaseTransport):
    """A transport that forwards to the live API and writes each Messages response to ``path``.

    The file is rewritten (atomically) after every response, so a crash keeps what was
    recorded; it is the JSON array ``Replay`` serves.
    """

    def __init__(self, path: str | os.PathLike[str], transport: httpx2.BaseTransport | None = None) -> None:
        self.path = Path(path)
        self._inner = transport if transport is not None else httpx2.HTTPTransport()
        self.responses: list[dict[str, Any]] = []

    def client(self, *, max_retries: int = 2, timeout: float = 120.0,
               api_key: str | None = None) -> anthropic.Anthropic:
        """A live SDK client (key from the environment unless given) whose transport records."""
        return anthropic.Anthropic(api_key=api_key, max_retries=max_retries, timeout=timeout,
                                   http_client=httpx2.Client(transport=self))

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self._inner.handle_request(request)
        if request.url.path != _MESSAGES_PATH:
            return response
        content = response.read()
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("type") in ("message", "error"):
            self.responses.append(body)
            self._write()
        # The content is decoded now, so the headers must no longer claim an encoding or length.
        headers = [(key, value) for key, value in response.headers.multi_items()
                   if key.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx2.Response(response.status_code, headers=headers, content=content,
                               request=request)

    def close(self) -> None:
        self._inner.close()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self.responses, out, indent=2, ensure_ascii=False)
            out.write("\n")
        os.replace(temporary, self.path)


def _load(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ProposerError(f"{os.fspath(path)}: cannot read the replay file ({error})") from None
    except ValueError as error:
        raise ProposerError(f"{os.fspath(path)}: the replay file is not JSON ({error})") from None
    return value


def _check(responses: object, name: str) -> None:
    if not isinstance(responses, list):
        raise ProposerError(f"{name}: a replay file holds a JSON array of Messages API "
                            f"responses, got {type(responses).__name__}")
    for number, body in enumerate(responses, 1):
        if not (isinstance(body, dict) and (body.get("type") == "message" or (
                body.get("type") == "error" and isinstance(body.get("error"), dict)))):
            raise ProposerError(f"{name}: element {number} is neither a Messages API response "
                                "({\"type\": \"message\", ...}) nor an API error body "
                                "({\"type\": \"error\", \"error\": {...}})")
