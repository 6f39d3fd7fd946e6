# expect: exit-at-import
import sys
sys.exit(0)
