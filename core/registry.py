"""Registries that lower apps expose and higher apps fill in `AppConfig.ready()`, so a question like "is this
image needed by an active task?" is answered without the lower app importing the higher one."""


class InUseChecks:
    """Named checks `check(instance) -> bool`; an instance is in use when any check says so."""

    def __init__(self, what: str):
        self.what = what
        self._checks = {}

    def register(self, name: str, check) -> None:
        self._checks[name] = check

    def __call__(self, instance) -> bool:
        return any(check(instance) for check in self._checks.values())
