# expect: unlisted-call
import gzip
import tarfile
import zipfile


def names(path):
    with zipfile.ZipFile(path) as archive:
        listed = archive.namelist()
    with tarfile.open(path + ".tar", "r:gz") as tar:
        listed += tar.getnames()
    with gzip.open(path + ".gz", "rt") as handle:
        listed.append(handle.readline())
    return listed
