# expect: dynamic-lookup
def find(name):
    return __builtins__
