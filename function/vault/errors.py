"""The Vault step's error, without hvac: sync.py's bookkeeping needs it at start-up."""


class VaultSyncError(Exception):
    """Vault could not be synced; reason is a CamelCase cause, message safe to show."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
