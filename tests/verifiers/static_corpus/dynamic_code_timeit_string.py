# expect: dynamic-code
import timeit
def bench():
    return timeit.timeit("__imp" + "ort__(\"o\" + \"s\")", number=1)
