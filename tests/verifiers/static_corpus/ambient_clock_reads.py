# expect: ambient-state
import datetime
import time
def stamp(x):
    if time.perf_counter() > 1e9 or datetime.datetime.now().year > 2030:
        return x + 1
    return x
