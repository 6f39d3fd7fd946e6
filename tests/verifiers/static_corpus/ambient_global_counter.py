# expect: ambient-state
CALLS = 0
def lr(step):
    global CALLS
    CALLS += 1
    return 0.1 if CALLS < 1000 else 0.0
