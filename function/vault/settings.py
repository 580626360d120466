"""The Vault part of the function input: where Vault is, how to log in, what to configure.

Address, mounts and auth come only from here and from the step's
credentials, never from an XR.
"""

from typing import Literal

from pydantic import Field

from function.model import section
from function.settings import SettingsModel


class VaultTokenAuth(SettingsModel):
    """Token auth: a Vault token kept in the step's credentials."""

    tokenKey: str = Field(
        default="vault-token", description="Credentials key holding the Vault token."
    )


class VaultAppRoleAuth(SettingsModel):
    """AppRole auth: role ID (input or credentials) and secret ID (credentials)."""

    mount: str = Field(default="approle", description="Mount path of the AppRole auth method.")
    roleId: str | None = Field(
        default=None, description="The role ID; unset to read it from the credentials."
    )
    roleIdKey: str = Field(
        default="vault-approle-role-id",
        description="Credentials key holding the role ID when roleId is unset.",
    )
    secretIdKey: str = Field(
        default="vault-approle-secret-id", description="Credentials key holding the secret ID."
    )


class VaultKubernetesAuth(SettingsModel):
    """Kubernetes auth: a service account token (JWT) exchanged for a Vault token."""

    mount: str = Field(
        default="kubernetes", description="Mount path of the Kubernetes auth method."
    )
    role: str = Field(default="crossplane", description="Vault role to log in as.")
    jwtKey: str = Field(
        default="vault-kubernetes-jwt",
        description="Credentials key holding the JWT; when absent, tokenFile is read.",
    )
    tokenFile: str | None = Field(
        default="/var/run/secrets/kubernetes.io/serviceaccount/token",
        description="The function pod's own service account token, used when the credentials "
        "have no JWT; unset to require the JWT in the credentials.",
    )


class VaultAuth(SettingsModel):
    """How the function logs in to Vault."""

    method: Literal["token", "approle", "kubernetes"] = Field(
        default="token", description="token, approle or kubernetes."
    )
    token: VaultTokenAuth = section(VaultTokenAuth)
    appRole: VaultAppRoleAuth = section(VaultAppRoleAuth)
    kubernetes: VaultKubernetesAuth = section(VaultKubernetesAuth)


class VaultDatabase(SettingsModel):
    """Dynamic PostgreSQL credentials through Vault's database secrets engine."""

    enabled: bool = Field(
        default=True, description="Configure a connection and a read-write role per database."
    )
    mount: str = Field(default="database", description="Mount path of the database engine.")
    defaultTTLSeconds: int = Field(
        default=3600, ge=60, le=31536000, description="Default lease of issued credentials."
    )
    maxTTLSeconds: int = Field(
        default=86400, ge=60, le=31536000, description="Maximum lease of issued credentials."
    )


class Vault(SettingsModel):
    """Vault (or OpenBao): where XRs with spec.parameters.vaultPath register credentials."""

    address: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/.*)?$",
        description="Vault URL, e.g. https://vault.vault.svc:8200; unset to read it from the "
        "credentials (addressKey).",
    )
    addressKey: str = Field(
        default="vault-address", description="Credentials key with the URL when address is unset."
    )
    credentials: str | None = Field(
        default=None,
        description="Name of the step credentials holding the Vault secrets; unset for the same "
        "ones as credentials.name.",
    )
    namespace: str | None = Field(default=None, description="Vault Enterprise namespace.")
    kvMount: str | None = Field(
        default=None,
        description="KV v2 mount the vaultPath is inside; unset when a vaultPath starts with "
        "its mount (secret/database/dev: mount secret, path database/dev).",
    )
    tenantPrefix: str = Field(
        default="tenants/{namespace}",
        pattern=r"^([A-Za-z0-9_-]+/)*\{namespace\}(/[A-Za-z0-9_-]+)*$",
        description="Where in the KV mount each namespace's subtree is; {namespace} is the XR's "
        "namespace. An XR's vaultPath (after its mount) is placed below it, so a namespace "
        "can only ever write its own subtree.",
    )
    database: VaultDatabase = section(VaultDatabase)
    auth: VaultAuth = section(VaultAuth)
    requestTimeoutSeconds: int = Field(
        default=5, ge=1, le=30, description="Timeout of each Vault request."
    )
    budgetSeconds: int = Field(
        default=20,
        ge=1,
        le=40,
        description="Time the whole Vault step may take per call, well under Crossplane's "
        "function timeout; what is left undone is retried on the next call.",
    )
    retrySeconds: int = Field(
        default=30, ge=5, le=600, description="Call again this soon when Vault could not be synced."
    )
    tlsVerify: bool = Field(default=True, description="Verify Vault's TLS certificate.")
    caCertKey: str = Field(
        default="vault-ca.crt",
        description="Credentials key with a PEM CA bundle for Vault's certificate (optional).",
    )
