# expect: dynamic-import
import importlib.util
def load(path):
    return importlib.util.spec_from_file_location("m", path)
