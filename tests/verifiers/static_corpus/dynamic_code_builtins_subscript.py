# expect: dynamic-code, dynamic-lookup
def f(src):
    return __builtins__["eval"](src)
