# expect: dynamic-lookup
def leak(f):
    return f.__globals__
