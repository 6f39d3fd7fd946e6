# expect: nothing
import importlib
json = importlib.import_module("json")
VALUE = json.loads("1")
