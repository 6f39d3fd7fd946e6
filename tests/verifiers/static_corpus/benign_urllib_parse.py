# expect: nothing
from urllib.parse import urlparse
def host(url):
    return urlparse(url).netloc
