# expect: checker-reference
import verifiers.static as v
