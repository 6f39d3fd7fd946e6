# expect: ambient-state
class Schedule:
    calls = 0
    @classmethod
    def tick(cls):
        cls.calls += 1
        return cls.calls
def lr(step):
    Schedule.calls += 1
    return 0.1
