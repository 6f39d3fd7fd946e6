# expect: exit-at-import
import sys
if __name__ == "__main__":
    pass
else:
    sys.exit(0)
