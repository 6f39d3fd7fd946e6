# expect: nothing
import functools
SCALE = 2.0
TABLE = {i: i * i for i in range(16)}
@functools.lru_cache(maxsize=None)
def square(x: int, scale: float = SCALE) -> float:
    return TABLE.get(x, x * x) * scale
class Config:
    lr = 3e-4
    betas = (0.9, 0.95)
