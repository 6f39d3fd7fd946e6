# expect: subprocess
import os
o = os
s = o.system
s("id")
