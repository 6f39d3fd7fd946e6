# expect: ambient-state
import time
def helper(x, started=time.time()):
    return x
