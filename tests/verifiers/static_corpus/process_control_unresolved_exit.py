# expect: process-control
def bail(self):
    self.os_mod._exit(0)
