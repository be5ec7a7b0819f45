import os

# Debian's chromium (apt-get install chromium; .ci/run installs it when missing).
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
HAS_CHROMIUM = os.access(CHROMIUM, os.X_OK)
