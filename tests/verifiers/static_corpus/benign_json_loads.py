# expect: nothing
import json
def parse(s):
    return json.loads(s)
