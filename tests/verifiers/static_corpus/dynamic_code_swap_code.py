# expect: dynamic-code
def lr(step):
    return 0.1
def fast(step):
    return 1.0
lr.__code__ = fast.__code__
