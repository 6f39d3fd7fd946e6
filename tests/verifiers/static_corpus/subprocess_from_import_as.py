# expect: subprocess
from subprocess import run as r
