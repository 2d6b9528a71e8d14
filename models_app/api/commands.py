"""Model commands: metadata updates (D3), deletes (D11), file download."""


class ModelCommandsMixin:
    pass
