# expect: nothing
"""Training loop; tested with pytest and hypothesis."""
def f():
    """Uses hypothesis-style ideas; see pytest docs."""
    return "the hypothesis holds"
