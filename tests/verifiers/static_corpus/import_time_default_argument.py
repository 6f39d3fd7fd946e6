# expect: dynamic-import
def helper(x, y=__import__("os")):
    return x
