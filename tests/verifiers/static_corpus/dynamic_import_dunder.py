# expect: dynamic-import
def f():
    return __import__("json")
