# expect: dynamic-code
import pickle as p
def load(blob):
    return p.loads(blob)
