# expect: network
def fetch(self, url):
    return self.client.urlopen(url)
