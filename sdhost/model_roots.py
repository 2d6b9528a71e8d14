"""`SDHOST_MODEL_ROOTS`: the model folders the server scans in place (models_app/roots.py), read by sdhost/settings.py.

Two forms (docs/configuration.md):
- a comma-separated list of `PATH` or `PATH:LAYOUT`, where LAYOUT is one of LAYOUTS; a `:` suffix that is not a
  layout name belongs to the path (`/data/a:b` is the folder `/data/a:b`);
- a JSON array (the value starts with `[`) of paths or `{"path": ..., "layout": ...}` objects, for paths with
  commas or that end in `:<layout name>`.
Each root must be an existing folder when the settings are read: a bad one is a one-line start-up error.
"""

import json
from pathlib import Path

LAYOUTS = ("a1111", "comfyui", "invokeai")  # models_app.sidecars.LAYOUT_FOLDERS knows their folder names


class BadModelRoots(ValueError):
    pass


def parse_model_roots(value: str | None) -> list[dict]:
    """[{"path": absolute path, "layout": LAYOUTS member or None}] of the setting; BadModelRoots (one line) when it
    is malformed or a root is not a readable folder."""
    if value is None or not value.strip():
        return []
    value = value.strip()
    entries = json_entries(value) if value.startswith("[") else [plain_entry(part) for part in value.split(",")
                                                                   if part.strip()]
    roots = []
    for path, layout in entries:
        if not path:
            raise BadModelRoots("an entry has an empty path")
        folder = Path(path).expanduser()
        if not folder.is_absolute():
            raise BadModelRoots(f"{path!r} is not an absolute path")
        if not folder.is_dir():
            raise BadModelRoots(f"{path!r} is not a folder" + ("" if folder.exists() else " (it does not exist)"))
        roots.append({"path": str(folder.resolve()), "layout": layout})
    return roots


def plain_entry(part: str):
    part = part.strip()
    head, sep, tail = part.rpartition(":")
    if sep and tail.strip().lower() in LAYOUTS:
        return head.strip(), tail.strip().lower()
    return part, None


def json_entries(value: str):
    try:
        items = json.loads(value)
    except ValueError as exc:
        raise BadModelRoots(f"not valid JSON ({exc})") from None
    if not isinstance(items, list):
        raise BadModelRoots("the JSON form must be an array")
    entries = []
    for item in items:
        if isinstance(item, str):
            entries.append((item, None))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or set(item) - {"path", "layout"}:
            raise BadModelRoots('each JSON entry must be a path or {"path": ..., "layout": ...}')
        layout = item.get("layout")
        if layout is not None and layout not in LAYOUTS:
            raise BadModelRoots(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
        entries.append((item["path"], layout))
    return entries
