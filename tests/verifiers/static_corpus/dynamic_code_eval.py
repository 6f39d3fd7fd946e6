# expect: dynamic-code
def f(src):
    return eval(src)
