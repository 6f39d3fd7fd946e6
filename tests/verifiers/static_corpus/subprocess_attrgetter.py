# expect: subprocess
import operator, os
operator.attrgetter("system")(os)("id")
