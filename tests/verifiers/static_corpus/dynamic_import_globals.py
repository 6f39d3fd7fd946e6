# expect: dynamic-import, dynamic-lookup
def f():
    return globals()["__import__"]("json")
