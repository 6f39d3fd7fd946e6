# expect: nothing
def größe(länge: float) -> float:
    """Non-ASCII identifiers are fine; only their NFKC form matters."""
    return länge * 2
