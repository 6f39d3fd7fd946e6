# expect: nothing
class Box:
    pass
class Trainer:
    def __init__(self, y):
        self.x = y
        obj = Box()
        obj.attr = 2
        self.options = dict(z=1)
