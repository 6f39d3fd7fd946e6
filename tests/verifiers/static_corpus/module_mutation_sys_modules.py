# expect: module-mutation, introspection
import sys
sys.modules["numpy"] = object()
