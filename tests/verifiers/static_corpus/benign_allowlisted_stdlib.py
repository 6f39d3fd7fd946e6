# expect: nothing
import collections
import dataclasses
import functools
import itertools
import json
import math
import operator
import re
import statistics
from typing import Optional

@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    y: "Optional[float]" = None

def summary(values: "list[float]") -> dict:
    counts = collections.Counter(round(v) for v in values)
    total = functools.reduce(operator.add, itertools.chain(values, [0.0]))
    return {"mean": statistics.mean(values), "total": total, "norm": math.hypot(*values),
            "counts": json.dumps(counts), "words": re.sub(r"\s+", " ", "a  b")}
