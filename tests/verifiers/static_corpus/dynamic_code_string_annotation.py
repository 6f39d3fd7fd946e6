# expect: dynamic-code
import typing
def probe(x: "__import__(\"os\").system(\"id\")") -> int:
    return 0
HINTS = typing.get_type_hints(probe)
