# expect: subprocess
import json, os
for mod in (json, os):
    mod.system("id")
