# expect: subprocess
import shlex
from subprocess import run
def g(cmd, runner=run):
    return runner(shlex.split(cmd))
