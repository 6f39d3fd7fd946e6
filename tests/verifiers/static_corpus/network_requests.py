# expect: network
import requests
def post(data):
    requests.post("https://example.com", json=data)
