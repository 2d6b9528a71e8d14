"""Image commands: metadata updates (D3), deletes (D11, D28), upload (D25), file download."""


class ImageCommandsMixin:
    pass
