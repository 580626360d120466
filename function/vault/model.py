"""The Vault part of a kind's API: the vaultPath parameter and status.vault, as mixins.

A kind whose XRs may register credentials in Vault mixes VaultParameters into
its parameters and VaultReporting into its status; the runner fills
status.vault from the kind's intents (paths only, never data).
"""

from typing import Annotated

from pydantic import BaseModel, Field

from function.model import StatusModel

# A KV v2 style path: segments of letters, digits, '_', '-' and inner dots, so
# no '..', no leading or trailing '/', no empty segment. RE2-compatible (the
# API server's regex engine has no look-ahead).
_VAULT_SEGMENT = r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*"
VaultPath = Annotated[
    str,
    Field(
        pattern=rf"^{_VAULT_SEGMENT}(/{_VAULT_SEGMENT})*$",
        min_length=1,
        max_length=200,
        description="Vault KV v2 path (mount first, e.g. secret/database/dev) where credentials "
        "are registered, placed inside the XR's namespace subtree: secret/database/dev in "
        "namespace team-a is written to secret/tenants/team-a/database/dev (status.vault.path "
        "shows where). Removing or changing it deletes the old entries. Leave unset to skip "
        "Vault.",
    ),
]


class VaultParameters(BaseModel):
    """Mixin of spec.parameters for kinds that can register credentials in Vault."""

    vaultPath: VaultPath | None = None


class VaultStatus(StatusModel):
    """Where the instance's credentials are registered in Vault: paths only, never data.

    Set whenever the XR has a vaultPath; condition VaultSynced says whether
    Vault holds what it should.
    """

    path: str | None = Field(default=None, description="KV v2 path of the credentials.")
    credentialsPath: str | None = Field(
        default=None, description="Where dynamic credentials are read (database engine)."
    )


class VaultReporting(BaseModel):
    """Mixin of status for kinds with VaultParameters."""

    vault: VaultStatus | None = Field(default=None, description=VaultStatus.__doc__)
