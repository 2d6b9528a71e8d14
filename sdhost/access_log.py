"""daphne's access log without secrets: a `?token=` query value is written as `[REDACTED]`."""

from urllib.parse import unquote_plus

from daphne.cli import CommandLineInterface
from daphne.server import Server


def redact(uri: str) -> str:
    """`uri` with the value of every `token` query parameter (however percent-encoded) replaced."""
    path, mark, query = uri.partition("?")
    if not mark:
        return uri
    fields = []
    for field in query.split("&"):
        name, equals, _ = field.partition("=")
        fields.append(f"{name}=[REDACTED]" if equals and unquote_plus(name) == "token" else field)
    return f"{path}?{'&'.join(fields)}"


def redacting(action_logger):
    """Wrap daphne's action logger so the paths it logs carry no token."""
    def log_action(protocol, action, details):
        if isinstance(details.get("path"), str):
            details = {**details, "path": redact(details["path"])}
        action_logger(protocol, action, details)

    return log_action


class RedactingServer(Server):
    def __init__(self, application, *args, action_logger=None, **kwargs):
        super().__init__(application, *args, action_logger=redacting(action_logger) if action_logger else None,
                         **kwargs)


class RedactingCommandLineInterface(CommandLineInterface):
    """daphne's command line, with the token-redacting access log."""

    server_class = RedactingServer
