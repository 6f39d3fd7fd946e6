# expect: dynamic-code
import builtins
def f(code):
    builtins.exec(code)
