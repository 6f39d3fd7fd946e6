# expect: exit-at-import
import sys
[sys.exit(0) for _ in range(1)]
