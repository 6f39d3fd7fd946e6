# expect: subprocess
import json, os
a, b = json, os
b.execv("/bin/sh", ["sh"])
