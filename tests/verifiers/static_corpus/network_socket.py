# expect: network
import socket as s
def ping(host):
    return s.create_connection((host, 80))
