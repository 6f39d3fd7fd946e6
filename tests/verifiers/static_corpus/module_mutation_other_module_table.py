# expect: module-mutation, unlisted-call
import collections.abc
import string
def poison():
    collections.abc.__all__.append("x")
    return string.whitespace
