"""Small pure libraries common in training code."""

from __future__ import annotations

from verifiers.static._allowlist._table import Table

__all__ = ["OTHERS"]

OTHERS = Table(
    "others",
    {**{f"einops.{n}": "" for n in ("rearrange", "repeat", "reduce", "einsum", "pack", "unpack", "parse_shape")},
     "einops.layers.torch.*": "", "attrs.*": "", "attr.*": "", "scipy.special.*": ""},
)
