"""Stand-in for get-pip.py (ansible-test's pip bootstrap), which it would download from a host of its own:
pip from the interpreter's ensurepip, then the pip ansible-test pins, from the package index."""
import ensurepip
import subprocess
import sys

ensurepip.bootstrap()
subprocess.check_call([sys.executable, "-m", "pip", "install", *sys.argv[1:]])
