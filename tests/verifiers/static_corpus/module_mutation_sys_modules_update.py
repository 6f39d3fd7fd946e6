# expect: module-mutation, introspection
import sys
def f(fake):
    sys.modules.update({"numpy": fake})
