# expect: dynamic-code
import types
def make(code):
    return types.FunctionType(code, {})
