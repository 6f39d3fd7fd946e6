# expect: subprocess
class Trainer:
    def cleanup(self):
        self.os_mod.system("rm -rf /tmp/x")
