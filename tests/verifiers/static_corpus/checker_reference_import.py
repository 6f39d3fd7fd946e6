# expect: checker-reference
import hypothesis
