# expect: subprocess
from os import *
system("ls")
