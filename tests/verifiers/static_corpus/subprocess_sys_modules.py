# expect: subprocess, introspection
import sys
def f():
    sys.modules["os"].system("id")
