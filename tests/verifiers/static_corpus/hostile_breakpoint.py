# expect: dynamic-code
def step(x):
    breakpoint()  # PYTHONBREAKPOINT can name any callable to import and run
    return x
