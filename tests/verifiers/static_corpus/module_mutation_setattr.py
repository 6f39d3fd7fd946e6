# expect: module-mutation
import math
setattr(math, "sqrt", lambda x: 1.0)
