# expect: dynamic-code
def f(src):
    return compile(src, "<x>", "exec")
