"""Walking the files and folders a user names on the command line (`import_model`, `import_image`).

Folders are walked recursively in name order; symlinks are followed, and a folder reached a second time (a
symlink loop, or two links to one folder) is walked once. Nothing here raises for bad input: what cannot be
walked is listed in `skipped` with the reason, and the walk goes on.
"""

import errno
import os
import stat


def os_reason(exc: OSError) -> str:
    """A short reason for a file that could not be read or walked."""
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(exc, FileNotFoundError):
        return "broken symlink or vanished"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)


def walk_files(paths, skipped: list) -> dict:
    """{absolute path: stat result} of the regular files among `paths` and under its folders, symlinks not resolved
    in the paths (a file keeps the path the user gave). `skipped` gets (path, reason) for what is not a regular
    file or cannot be read."""
    found, seen = {}, set()
    for given in paths:
        path = os.path.abspath(given)
        try:
            info = os.stat(path)
        except OSError as exc:
            skipped.append((path, os_reason(exc)))
            continue
        if stat.S_ISDIR(info.st_mode):
            _walk(path, info, seen, found, skipped)
        elif stat.S_ISREG(info.st_mode):
            found[path] = info
        else:
            skipped.append((path, "not a regular file"))
    return found


def _walk(root, root_info, seen, found, skipped):
    stack = [(root, root_info)]
    while stack:
        folder, info = stack.pop()
        if (info.st_dev, info.st_ino) in seen:
            skipped.append((folder, "folder already scanned (symlink loop or second link)"))
            continue
        seen.add((info.st_dev, info.st_ino))
        try:
            with os.scandir(folder) as entries:
                entries = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            skipped.append((folder, os_reason(exc)))
            continue
        subfolders = []
        for entry in entries:  # strings, not Paths: a re-scan's cost is this loop
            try:
                entry_info = entry.stat()  # follows symlinks
            except OSError as exc:
                skipped.append((entry.path, os_reason(exc)))
                continue
            if stat.S_ISDIR(entry_info.st_mode):
                subfolders.append((entry.path, entry_info))
            elif stat.S_ISREG(entry_info.st_mode):
                found[entry.path] = entry_info
            else:
                skipped.append((entry.path, "not a regular file"))
        stack.extend(reversed(subfolders))  # depth first, in name order
