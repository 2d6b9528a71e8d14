"""Free-form metadata keys (D24): 1-64 letters, digits or '_', the same rule for updates and queries."""

import re

# Use fullmatch(): with match(), `$` also matches before a final line feed, so "key\n" passed (#23 item 6). The
# anchors stay for the pattern's use in JSON Schema.
METADATA_KEY_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
