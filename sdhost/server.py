"""The daphne server SD-Host runs (`manage.py serve`, the tests' live server).

Import it only where the server starts: importing daphne.server installs Twisted's asyncio reactor.
"""

from daphne.cli import CommandLineInterface
from daphne.server import Server
from twisted.web.http import Request


class SDHostServer(Server):
    """daphne, minus Twisted's own parsing of POST form bodies.

    Twisted parses `multipart/form-data` and url-encoded POST bodies into `request.args`, which daphne never
    reads: a second copy of every upload in memory, and a malformed multipart body (no boundary, no parts)
    answered with an empty 400 before the application sees it. Without it Django parses the body once and
    malformed uploads get a JSON:API error.
    """

    def protocol_connected(self, protocol):
        if isinstance(protocol, Request):  # called from daphne's WebRequest.__init__, before the body arrives
            protocol._parsePOSTFormSubmission = False
        super().protocol_connected(protocol)


class SDHostCommandLine(CommandLineInterface):
    server_class = SDHostServer
