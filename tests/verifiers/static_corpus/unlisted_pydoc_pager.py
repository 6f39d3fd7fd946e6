# expect: unlisted-call
import pydoc
def page(text):
    pydoc.pipepager(text, "sh -c id")
