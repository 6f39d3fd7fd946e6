# expect: dynamic-code
import builtins
def f(code):
    return getattr(builtins, "ev" + "al")(code)
