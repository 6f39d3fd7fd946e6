# expect: module-mutation
import math
math.pi += 1
