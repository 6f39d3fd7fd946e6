# expect: subprocess
import json, os
x = json
if DEBUG:
    x = os
x.system("id")
