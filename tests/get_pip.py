"""Stand-in for get-pip.py, ansible-test's pip bootstrap, which it would download from a host of its own.

ansible-test runs it in an empty virtual environment as `get_pip.py [pip options] pip==X [setuptools==Y
wheel==Z] [--no-setuptools] [--no-wheel]` (2.14 names all three packages; 2.19 names pip alone and adds
both --no flags).  It does the same from what these machines have: the interpreter's ensurepip, then the
pinned versions from the package index (pip.conf's mirrors).  The --no flags are get-pip's own, not
pip's: they are taken out, and setuptools, which ensurepip brings before Python 3.12, is taken away again.
"""
import ensurepip
import subprocess
import sys

OWN_FLAGS = ("--no-setuptools", "--no-wheel")


def main(argv):
    pip_args = [arg for arg in argv if arg not in OWN_FLAGS]
    ensurepip.bootstrap()
    pip = [sys.executable, "-m", "pip"]
    subprocess.check_call([*pip, "install", *pip_args])
    wanted = " ".join(pip_args)
    for flag, package in (("--no-setuptools", "setuptools"), ("--no-wheel", "wheel")):
        if flag in argv and package + "==" not in wanted:
            # Absent already is fine: uninstall's status is not the point, the package's absence is.
            subprocess.call([*pip, "uninstall", "-y", "-q", package], stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main(sys.argv[1:])
