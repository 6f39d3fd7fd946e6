"""The SDK client: live (API key from the environment), replayed, or recording; SDK errors as ProposerError."""

from __future__ import annotations

import os

import anthropic
import httpx2

from models._errors import ProposerError

__all__ = ["describe_error", "make_client"]

_KEY_HELP = ("set ANTHROPIC_API_KEY or use --replay FILE (a JSON array of recorded Messages API "
             "responses) to run without the network")


def make_client(*, replay: str | os.PathLike[str] | None = None,
                record: str | os.PathLike[str] | None = None,
                max_retries: int = 2, timeout: float = 120.0) -> anthropic.Anthropic:
    """An ``anthropic.Anthropic`` client: replaying ``replay``, or live (recording into ``record``).

    Retries and timeouts are the SDK's own (``max_retries``, ``timeout``). A live client
    needs ``ANTHROPIC_API_KEY``; without it this raises ProposerError saying how to set it.
    """
    from models.claude._replay import Recorder, Replay

    if replay is not None:
        if record is not None:
            raise ProposerError("--replay and --record exclude each other: a replay makes no "
                                "live calls to record")
        return Replay(replay).client(max_retries=max_retries, timeout=timeout)
    if not os.environ.get("ANTHROPIC_API_KEY"):
        raise ProposerError(f"no API key: {_KEY_HELP}")
    if record is not None:
        return Recorder(record).client(max_retries=max_retries, timeout=timeout)
    return anthropic.Anthropic(max_retries=max_retries, timeout=timeout)


def describe_error(error: BaseException, *, model: str, where: str) -> ProposerError:
    """One clear ProposerError for any SDK error class (what happened, where, and what to do)."""
    from models.claude._replay import ReplayExhausted

    if isinstance(error, ReplayExhausted):
        return ProposerError(f"{where}: {error}")
    status = getattr(error, "status_code", None)
    detail = _detail(error)
    request_id = getattr(error, "request_id", None)
    suffix = f" (request id {request_id})" if request_id else ""
    for kind, advice in _ADVICE:
        if isinstance(error, kind):
            head = f"{where}: model {model!r}: " + (f"HTTP {status} " if status else "")
            return ProposerError(f"{head}{advice}: {detail}{suffix}")
    return ProposerError(f"{where}: model {model!r}: unexpected SDK error "
                         f"{type(error).__name__}: {detail}{suffix}")


def _detail(error: BaseException) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        inner = body["error"]
        return f"{inner.get('type', 'error')}: {inner.get('message', '')}".strip()
    cause = error.__cause__
    text = str(error) or type(error).__name__
    return f"{text} ({type(cause).__name__}: {cause})" if cause is not None else text


# Most specific first: the status classes derive from APIStatusError, timeouts from connection errors.
_ADVICE: tuple[tuple[type[BaseException], str], ...] = (
    (anthropic.AuthenticationError, f"the API key was refused; check it, or {_KEY_HELP}"),
    (anthropic.PermissionDeniedError, "the key may not use this model or resource; check the "
                                      "model name and the key's workspace"),
    (anthropic.NotFoundError, "not found; check the model name (e.g. claude-sonnet-4-5)"),
    (anthropic.RateLimitError, "rate limited after the SDK's retries; wait and rerun, raise "
                               "max_retries, or lower the request size"),
    (anthropic.BadRequestError, "the API rejected the request; this is a bug in the request "
                                "the proposer built or a model that lacks a feature it uses"),
    (anthropic.UnprocessableEntityError, "the API could not process the request"),
    (anthropic.InternalServerError, "the API failed or is overloaded after the SDK's retries; "
                                    "rerun later or raise max_retries"),
    (anthropic.APIStatusError, "the API answered with an error"),
    (anthropic.APITimeoutError, "the request timed out after the SDK's retries; raise timeout "
                                "or max_retries"),
    (anthropic.APIConnectionError, "cannot reach the API; check the network (or use --replay FILE)"),
    (anthropic.APIResponseValidationError, "the API's answer did not match the SDK's schema"),
    (anthropic.AnthropicError, "the SDK failed"),
    (httpx2.HTTPError, "the HTTP layer failed"),
)
