# expect: module-mutation
import math
object.__setattr__(math, "tau", 6)
