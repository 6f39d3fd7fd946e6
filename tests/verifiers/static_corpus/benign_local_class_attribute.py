# expect: nothing
class Cfg:
    lr = 0.1
Cfg.lr = 0.2
