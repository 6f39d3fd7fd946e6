# expect: ambient-state
import os
import sys
def workers(x):
    if __debug__ and sys.flags.optimize == 0:
        return x * (os.cpu_count() or 1)
    return x
