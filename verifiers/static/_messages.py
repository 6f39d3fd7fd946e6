"""What a finding says: the construct as written, what it resolves to, and why that breaks the rule."""

from __future__ import annotations

from properties import RULES
from verifiers.static._names import is_known
from verifiers.static._rules import Hit

__all__ = ["describe"]


def describe(hit: Hit, text: str, symbol: str, verb: str = "resolves to") -> str:
    """The message for ``hit`` on the source ``text`` that resolved to ``symbol``."""
    summary = RULES[hit.rule].summary
    attr = symbol.rsplit(".", 1)[-1]
    if hit.why == "unresolved" and is_known(symbol):
        base = symbol.rsplit(".", 1)[0]
        return f"`{text}` uses `.{attr}` on `{base}`, whose contents the checker does not know; that name {summary}"
    if hit.why == "unresolved":
        return f"`{text}` uses `.{attr}` on a value the checker cannot resolve; that name {summary}"
    if hit.why == "any-base":
        return f"`{text}` reaches `{attr}`, which {summary}"
    if hit.why == "computed-name":
        return (f"`{text}` looks an attribute up by a name the checker cannot compute (or hands `{attr}` on "
                f"as a value); {summary}")
    if hit.why == "module-value":
        return (f"`{text}` hands the module `{symbol}` on as a value, so what is reached through it cannot be "
                f"followed; call its functions by name instead ({summary})")
    if hit.why == "allow-list":
        if hit.rule == "unlisted-call":
            because = f" ({hit.reason})" if hit.reason else ""
            return f"`{text}` {verb} `{symbol}`, which is not on the allow-list of safe APIs{because}"
        return f"`{text}` {verb} `{symbol}`, which {hit.reason or summary}"
    said = f"`{text}` {verb} `{symbol}`" if text != symbol else f"`{symbol}`"
    if hit.rule == "forbidden-name":
        return f"{said}, a name the repository's properties forbid: {hit.why}"
    if hit.rule == "exit-at-import":
        return f"{said} runs when the module is imported; move it under `if __name__ == \"__main__\":`"
    return f"{said}, which {summary}"
