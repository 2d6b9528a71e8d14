"""Free-form metadata keys (D24): 1-64 letters, digits or '_', the same rule for updates and queries."""

import re

METADATA_KEY_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
