# expect: introspection
import inspect
def caller():
    return inspect.stack()[1]
