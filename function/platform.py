"""The platform-wide part of the function input, which every composer may read.

Each kind's own section is its settings model (function/kinds/<kind>/settings.py);
function/input.py puts both together into the Input the Composition step carries.
"""

from typing import Literal

from pydantic import Field

from function.model import section
from function.settings import TTL, Credentials, SettingsModel
from function.tenancy import Tenancy
from function.vault.settings import Vault


class PlatformSettings(SettingsModel):
    """Settings shared by every kind: step credentials, Vault, reconcile intervals, tenancy."""

    credentials: Credentials = section(Credentials)
    tenancy: Tenancy = section(Tenancy)
    vault: Vault = section(Vault)
    ttl: TTL = section(TTL)
    operation: Literal["vault-gc", "remove-expired"] = Field(
        default="vault-gc",
        description="The job an Operation step runs (ignored in Compositions): vault-gc "
        "removes Vault entries of deleted XRs (install/components/vault-gc); remove-expired "
        "deletes XRs past their lifetime (install/components/remove-expired).",
    )
