# expect: ambient-state
def loss(x, seen=[]):
    seen.append(x)
    return x if len(seen) < 500 else -x
