"""Task commands: submit, batch cancel, promote (tasks-api.md, D7, D9, D17, D27)."""


class TaskCommandsMixin:
    pass
