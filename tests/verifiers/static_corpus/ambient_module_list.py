# expect: ambient-state
HISTORY = []
def loss(x):
    HISTORY.append(x)
    return x if len(HISTORY) < 500 else x * 0
