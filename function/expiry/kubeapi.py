"""Deleting one XR through the Kubernetes API, as the function's own service account.

The function runs in a pod (Crossplane's Function runtime); in-cluster, the API
server's address comes from the environment Kubernetes sets and the bound
service account token and CA from the files it mounts. The token is read on
every run: kubelet rotates it.

A delete carries preconditions (uid and resourceVersion), so what is deleted is
exactly the object the decision was made on: not a new XR of the same name, not
one whose ttl was extended since Crossplane listed it (409, kept, decided again
on the next run).
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TIMEOUT_SECONDS = 10.0


class KubeAPIError(Exception):
    """The API server could not be asked, or refused; reason is CamelCase, message safe to show."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class APIServer:
    """Where the API server is and how to authenticate to it."""

    url: str
    token: str
    # Path of the CA bundle that signs the API server's certificate (None: plain HTTP, tests).
    ca_file: str | None

    @classmethod
    def in_cluster(
        cls, env: Mapping[str, str] = os.environ, account: Path = SERVICE_ACCOUNT_DIR
    ) -> "APIServer":
        host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
        if not host or not port:
            raise KubeAPIError(
                "NotInCluster", "KUBERNETES_SERVICE_HOST/PORT are not set: not running in a pod"
            )
        try:
            token = (account / "token").read_text().strip()
        except OSError as e:
            raise KubeAPIError(
                "NoServiceAccountToken", f"cannot read the service account token in {account}"
            ) from e
        host = f"[{host}]" if ":" in host else host
        return cls(url=f"https://{host}:{port}", token=token, ca_file=str(account / "ca.crt"))


@dataclass(frozen=True)
class Target:
    """One namespaced object of a custom resource, as it was when listed."""

    group: str
    version: str
    plural: str
    namespace: str
    name: str
    uid: str
    resource_version: str

    @property
    def path(self) -> str:
        """The object's URL path, each part percent-escaped: a name holding "/", ".." or "?"
        stays one path segment instead of naming another object or adding a query."""
        parts = ("apis", self.group, self.version, "namespaces", self.namespace, self.plural)
        return "".join(f"/{quote(p, safe='')}" for p in (*parts, self.name))


# Outcomes of a delete that are not errors.
DELETED = "Deleted"
GONE = "AlreadyGone"
CHANGED = "ChangedSinceListed"


def delete(api: APIServer, target: Target) -> str:
    """DELETE target with uid and resourceVersion preconditions; DELETED, GONE or CHANGED."""
    body = {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "preconditions": {"uid": target.uid, "resourceVersion": target.resource_version},
    }
    try:
        got = requests.delete(
            api.url + target.path,
            json=body,
            headers={"Authorization": f"Bearer {api.token}", "Accept": "application/json"},
            verify=api.ca_file if api.ca_file else True,
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.exceptions.Timeout as e:
        raise KubeAPIError("APIServerUnreachable", "the API server did not answer in time") from e
    except requests.exceptions.RequestException as e:
        raise KubeAPIError("APIServerUnreachable", "cannot connect to the API server") from e
    if got.status_code in (200, 202):
        return DELETED
    if got.status_code == 404:
        return GONE
    if got.status_code == 409:
        return CHANGED
    what = f"{target.plural} {target.namespace}/{target.name}"
    if got.status_code in (401, 403):
        raise KubeAPIError(
            "Forbidden",
            f"the API server refused to delete {what} ({got.status_code}): bind the function's "
            "service account as install/components/remove-expired does",
        )
    raise KubeAPIError(
        "APIServerError", f"the API server answered {got.status_code} deleting {what}"
    )
