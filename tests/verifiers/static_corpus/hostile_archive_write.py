# expect: file-write
import tarfile
import zipfile


def pack(path):
    zipfile.ZipFile(path, "w")
    tarfile.open(path + ".tar", mode="w:gz")
