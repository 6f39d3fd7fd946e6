# expect: checker-reference
from sandbox import Gate
