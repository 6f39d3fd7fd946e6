# expect: nothing
def running(values, seen=None):
    seen = [] if seen is None else list(seen)
    cache = {}
    for v in values:
        seen.append(v)
        cache[v] = len(seen)
    return cache

class Meter:
    def __init__(self):
        self.count = 0
    def add(self, x):
        self.count += 1
        return self.count
