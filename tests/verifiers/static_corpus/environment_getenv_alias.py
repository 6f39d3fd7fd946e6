# expect: environment
from os import getenv as ge
def debug():
    return ge("DEBUG")
