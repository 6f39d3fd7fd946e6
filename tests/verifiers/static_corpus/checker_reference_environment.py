# expect: checker-reference, environment
import os
def under_test():
    return os.environ.get("PYTEST_CURRENT_TEST") is not None
