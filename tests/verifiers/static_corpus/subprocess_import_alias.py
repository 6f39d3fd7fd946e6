# expect: subprocess
import os as o
o.system("ls")
