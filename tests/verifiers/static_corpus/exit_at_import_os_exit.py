# expect: exit-at-import, process-control
import os
os._exit(0)
