# expect: nothing
import sys
def main(argv):
    if not argv:
        sys.exit(2)
handler = lambda: sys.exit(1)
