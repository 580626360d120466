"""The workspace's bucket, its own IAM user and key, and that key in each consumer's format.

The Bucket and IAM objects live in the platform's namespace (input
mlopsPlatform.objectStore.namespace), where the data scientists cannot edit the
policy or read the access key's connection Secret. Crossplane passes that
Secret's data to the function as the AccessKey's connection details; the
function writes the key into the workspace namespace under the names each
consumer reads.

CRDs: provider-upjet-aws v2.6.0, namespaced (.m.) groups, $SHARED/crds/provider-upjet-aws.
"""

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from function.blocks.immutable import refuse_change
from function.blocks.managed import EXTERNAL_NAME, label_selector, managed
from function.context import Context, RequiredKind, WarningResult
from function.kinds.mlopsplatform.model import MLOpsPlatformParameters
from function.kinds.mlopsplatform.settings import MLOpsPlatformSettings, ObjectStoreSettings
from function.naming import DNS_LABEL_MAX, dns_label
from function.observed import SecretDataError, detail_value, text
from function.refusal import Refusal
from function.secrets import composed_secret_value, connection_secret
from function.structs import JSON

MLOpsContext = Context[MLOpsPlatformParameters, MLOpsPlatformSettings]

S3_API = "s3.aws.m.upbound.io/v1beta1"
IAM_API = "iam.aws.m.upbound.io/v1beta1"
CRDS = tuple(
    f"crds/provider-upjet-aws/{f}.yaml"
    for f in (
        "s3.aws.m.upbound.io_buckets",
        "iam.aws.m.upbound.io_users",
        "iam.aws.m.upbound.io_policies",
        "iam.aws.m.upbound.io_userpolicyattachments",
        "iam.aws.m.upbound.io_accesskeys",
    )
)

BUCKET = "bucket"
USER = "iam-user"
POLICY = "iam-policy"
BOUNDARY = "iam-permissions-boundary"
ATTACHMENT = "iam-policy-attachment"
ACCESS_KEY = "access-key"
CLOUD = (BUCKET, USER, POLICY, BOUNDARY, ATTACHMENT, ACCESS_KEY)
# The IAM user and what hangs on it, composed once its permissions boundary is known.
USER_OBJECTS = (USER, ATTACHMENT, ACCESS_KEY)

# Every Bucket carries its bucket name in this label (bucket names are valid label
# values: 3-63 of [a-z0-9.-], starting and ending alphanumeric), so a composer can ask
# Crossplane for the Buckets holding a name.
BUCKET_LABEL = "platform.example.org/bucket"
BUCKET_KIND = RequiredKind(S3_API, "Bucket", "buckets")

# provider-upjet-aws writes an AccessKey's id and secret as these connection details
# (config/iam/config.go in crossplane-contrib/provider-upjet-aws, AccessKey).
KEY_ID_DETAIL = "username"
KEY_SECRET_DETAIL = "password"

# The workspace's credentials for every workload, in the format KServe reads: AWS
# SDK variable names plus the serving.kserve.io/s3-* annotations that tell its storage
# initializer where the store is (KServe v0.20 docs, docs/modelserving/storage/s3/s3.md).
STORAGE_SECRET = "storage-secret"
STORAGE_SECRET_NAME = "workspace-s3-credentials"
KEY_ID_ENV = "AWS_ACCESS_KEY_ID"
KEY_SECRET_ENV = "AWS_SECRET_ACCESS_KEY"
# KServe finds the Secret through the ServiceAccount an InferenceService runs as.
SERVING_ACCOUNT = "serving-account"
SERVING_ACCOUNT_NAME = "kserve-s3"

# Kubeflow Pipelines 2.x: the launcher reads the pipeline root and the S3 provider's
# settings from ConfigMap kfp-launcher of the run's namespace, and the keys from the
# Secret its providers section names (kubeflow/pipelines backend/src/v2/config/s3.go,
# backend/src/v2/objectstore/config.go: secretName, accessKeyKey, secretKeyKey).
# The Secret is not KFP's own mlpipeline-minio-artifact, which the pipelines profile
# controller writes into every profile namespace (see docs/kinds/mlopsplatform.md).
PIPELINES_SECRET = "pipelines-secret"
PIPELINES_SECRET_NAME = "mlpipeline-s3-artifact"
PIPELINES_CONFIG = "pipelines-launcher-config"
PIPELINES_CONFIG_NAME = "kfp-launcher"
KFP_KEY_ID = "accesskey"
KFP_KEY_SECRET = "secretkey"

# Each workspace Secret holding the key: its id and secret under these keys.
_WRITTEN_AS = {
    STORAGE_SECRET: (KEY_ID_ENV, KEY_SECRET_ENV),
    PIPELINES_SECRET: (KFP_KEY_ID, KFP_KEY_SECRET),
}

BUCKET_NAME_WHY = "a new name is a new, empty bucket; copy the objects to a new workspace instead"
# A retained bucket is never deleted by Crossplane (no Delete management policy).
RETAIN_POLICIES = ["Observe", "Create", "Update", "LateInitialize"]


@dataclass(frozen=True)
class AccessKey:
    """The workspace's S3 access key. Its repr hides the secret."""

    key_id: str
    secret: str

    def __repr__(self) -> str:
        return f"AccessKey(key_id={self.key_id!r}, secret=<hidden>)"


@dataclass(frozen=True)
class Endpoint:
    """Where the object store is, as each consumer spells it."""

    url: str
    host: str  # host[:port], as KServe's s3-endpoint and KFP's endpoint take it
    https: bool


def endpoint(settings: ObjectStoreSettings) -> Endpoint:
    url = settings.endpoint or f"https://s3.{settings.region}.amazonaws.com"
    parts = urlsplit(url)
    return Endpoint(url=url, host=parts.netloc, https=parts.scheme == "https")


def bucket_name(ctx: MLOpsContext, prefix: str) -> str:
    """The bucket: the user's name, else <xr>-ml-artifacts (after prefix when it does not
    start with it); never changed once composed, and inside the tenant's prefix.

    A bucket name is an external name: naming a bucket that exists adopts it (the
    managed resource observes it and takes it over), so a workspace may name only
    buckets under its tenant's prefix. A Bucket composed before the rule keeps its
    name: renaming would strand its objects.
    """
    was = text(ctx.observed.get(BUCKET), "metadata", "annotations", EXTERNAL_NAME)
    given = ctx.params.objectStore.bucketName
    name = given or was or _derived(ctx.xr.name, prefix)
    refuse_change("objectStore.bucketName", was, name, BUCKET_NAME_WHY)
    if name != was and not name.startswith(prefix):
        raise Refusal(
            f"spec.parameters.objectStore.bucketName {name!r} must start with {prefix!r}, the "
            "bucket prefix the platform's tenancy gives this workspace: a bucket outside it "
            "may be another team's, and naming it would adopt it"
        )
    return name


def _derived(xr_name: str, prefix: str) -> str:
    """<xr>-ml-artifacts, placed after prefix when it does not start with it."""
    name = dns_label(xr_name, "ml-artifacts")
    if name.startswith(prefix):
        return name
    room = DNS_LABEL_MAX - len(prefix)
    if room < 3:
        raise Refusal(
            f"metadata.name {xr_name!r}: its bucket prefix {prefix!r} (tenancy.bucketPrefix) "
            f"leaves no room for a bucket name (S3 names are at most {DNS_LABEL_MAX} "
            "characters); shorten the name, or give the namespace a shorter prefix"
        )
    return prefix + dns_label(xr_name, "ml-artifacts", limit=room)


def refuse_taken(ctx: MLOpsContext, bucket: str, holders: list[JSON]) -> None:
    """Refusal when another XR's Bucket holds the name (holders: the Buckets Crossplane
    found with the name's label); Buckets not listed yet compose.

    When two were composed before either saw the other, the older keeps the name, so the
    answer does not flip between them.
    """
    mine = ctx.observed.get(BUCKET)
    own = (text(mine, "metadata", "namespace"), text(mine, "metadata", "name"))
    others = [
        b
        for b in holders
        if text(b, "metadata", "annotations", EXTERNAL_NAME) == bucket
        and (text(b, "metadata", "namespace"), text(b, "metadata", "name")) != own
    ]
    if mine is not None:
        others = [b for b in others if _age(b) < _age(mine)]
    if others:  # which workspace holds it is not this one's to know
        raise Refusal(
            f"spec.parameters.objectStore.bucketName {bucket!r} is another workspace's "
            "bucket: pick another name under the workspace's bucket prefix"
        )


def _age(obj: JSON | None) -> tuple[str, str]:
    """Creation order: creationTimestamp (RFC 3339, sorts as text), then name."""
    created = text(obj, "metadata", "creationTimestamp") or "~"  # not created: newest
    return created, text(obj, "metadata", "name") or ""


def access_key_secret_name(ctx: MLOpsContext) -> str:
    """The AccessKey's connection Secret, in the platform's namespace."""
    return dns_label(ctx.xr.name, "mlops-s3-access-key")


def cloud_objects(ctx: MLOpsContext, bucket: str, prefix: str) -> dict[str, JSON]:
    """Bucket, a policy scoped to the bucket, a permissions boundary scoped to the tenant's
    prefix and, once the boundary's ARN is known, the IAM user it bounds, the policy's
    attachment and an access key."""
    store = ctx.settings.objectStore
    ns, config = store.namespace, store.providerConfigRef
    tags = {"platform.example.org/mlopsplatform": ctx.xr.name}
    out: dict[str, JSON] = {}
    out[BUCKET] = managed(
        S3_API,
        "Bucket",
        {"region": store.region, "forceDestroy": False, "tags": tags},
        config,
        external_name=bucket,
        namespace=ns,
    )
    out[BUCKET]["metadata"]["labels"] = {BUCKET_LABEL: bucket}
    if ctx.params.objectStore.retention == "Retain":
        out[BUCKET]["spec"]["managementPolicies"] = RETAIN_POLICIES
    out[POLICY] = _policy(
        ctx,
        f"Read and write s3://{bucket} (MLOpsPlatform {ctx.xr.name})",
        _s3_policy(store.arnPartition, bucket, "Bucket"),
    )
    out[BOUNDARY] = _policy(
        ctx,
        f"Permissions boundary: buckets {prefix}* (MLOpsPlatform {ctx.xr.name})",
        _s3_policy(store.arnPartition, f"{prefix}*", "Prefix"),
    )
    boundary = permissions_boundary(ctx)
    if boundary is None and not any(n in ctx.observed for n in USER_OBJECTS):
        return out
    user: JSON = {"path": "/mlops/", "tags": tags}
    if boundary is not None:
        user["permissionsBoundary"] = boundary
    out[USER] = managed(IAM_API, "User", user, config, namespace=ns)
    out[ATTACHMENT] = managed(
        IAM_API,
        "UserPolicyAttachment",
        {
            "userSelector": label_selector(out, USER),
            "policyArnSelector": label_selector(out, POLICY),
        },
        config,
        namespace=ns,
    )
    out[ACCESS_KEY] = managed(
        IAM_API, "AccessKey", {"userSelector": label_selector(out, USER)}, config, namespace=ns
    )
    # A namespaced managed resource writes its connection Secret into its own namespace.
    out[ACCESS_KEY]["spec"]["writeConnectionSecretToRef"] = {"name": access_key_secret_name(ctx)}
    return out


def permissions_boundary(ctx: MLOpsContext) -> str | None:
    """The boundary policy's ARN: as provider-upjet-aws reports it, else as the user has it.

    The User takes the boundary as an ARN (iam.aws.m.upbound.io User
    spec.forProvider.permissionsBoundary, no reference), known once AWS created the
    policy. Per AWS IAM "Permissions boundaries for IAM entities", a user's effective
    permissions are those both its identity policies and its boundary allow: a boundary
    grants nothing, it caps what any policy attached later could grant.
    """
    arn = text(ctx.observed.get(BOUNDARY), "status", "atProvider", "arn")
    if arn:
        return arn
    return text(ctx.observed.get(USER), "spec", "forProvider", "permissionsBoundary")


def _policy(ctx: MLOpsContext, description: str, document: str) -> JSON:
    store = ctx.settings.objectStore
    tags = {"platform.example.org/mlopsplatform": ctx.xr.name}
    return managed(
        IAM_API,
        "Policy",
        {"path": "/mlops/", "description": description, "policy": document, "tags": tags},
        store.providerConfigRef,
        namespace=store.namespace,
    )


def _s3_policy(partition: str, buckets: str, sid: str) -> str:
    """IAM policy allowing the buckets named (a name, or a prefix and *) only: list and
    locate them, read, write and delete their objects."""
    arn = f"arn:{partition}:s3:::{buckets}"
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": arn,
            },
            {
                "Sid": "Objects",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": f"{arn}/*",
            },
        ],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def access_key(ctx: MLOpsContext) -> tuple[AccessKey | None, list[WarningResult]]:
    """The access key: from the AccessKey's connection details, else read back from the
    workspace Secrets already written (so a briefly missing or unreadable detail changes
    nothing), with a warning for a detail that is not text."""
    details = ctx.observed.connection_details(ACCESS_KEY)
    warnings: list[WarningResult] = []
    try:
        key_id = detail_value(details, KEY_ID_DETAIL, ACCESS_KEY)
        secret = detail_value(details, KEY_SECRET_DETAIL, ACCESS_KEY)
    except SecretDataError as e:
        key_id = secret = None
        warnings.append(
            WarningResult(
                f"{e}: the workspace's credentials keep the key they were written with",
                reason="InvalidAccessKey",
            )
        )
    if key_id and secret:
        return AccessKey(key_id, secret), warnings
    for name, (id_key, secret_key) in _WRITTEN_AS.items():
        old_id = composed_secret_value(ctx, name, id_key)
        old_secret = composed_secret_value(ctx, name, secret_key)
        if old_id and old_secret:
            return AccessKey(old_id, old_secret), warnings
    return None, warnings


def storage_secret(ctx: MLOpsContext, namespace: str, key: AccessKey) -> JSON:
    """The workspace's credentials Secret, as KServe (and the AWS SDKs) read it."""
    where = endpoint(ctx.settings.objectStore)
    secret = connection_secret(
        ctx,
        STORAGE_SECRET_NAME,
        {KEY_ID_ENV: key.key_id, KEY_SECRET_ENV: key.secret},
        namespace=namespace,
    )
    secret["metadata"]["annotations"] = {
        "serving.kserve.io/s3-endpoint": where.host,
        "serving.kserve.io/s3-usehttps": "1" if where.https else "0",
        "serving.kserve.io/s3-region": ctx.settings.objectStore.region,
        "serving.kserve.io/s3-useanoncredential": "false",
    }
    return secret


def serving_account(namespace: str) -> JSON:
    """The ServiceAccount InferenceServices run as: KServe reads the storage Secret from it."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": SERVING_ACCOUNT_NAME, "namespace": namespace},
        "secrets": [{"name": STORAGE_SECRET_NAME}],
    }


def pipelines_secret(ctx: MLOpsContext, namespace: str, key: AccessKey) -> JSON:
    """The key under the names Kubeflow Pipelines' launcher reads (kfp-launcher names it)."""
    return connection_secret(
        ctx,
        PIPELINES_SECRET_NAME,
        {KFP_KEY_ID: key.key_id, KFP_KEY_SECRET: key.secret},
        namespace=namespace,
    )


def pipelines_config(ctx: MLOpsContext, namespace: str, bucket: str) -> JSON:
    """ConfigMap kfp-launcher: artifacts under s3://<bucket>/<path>, with the workspace's key."""
    store = ctx.settings.objectStore
    where = endpoint(store)
    providers = {
        "s3": {
            "default": {
                "endpoint": where.host,
                "disableSSL": not where.https,
                "region": store.region,
                "forcePathStyle": store.forcePathStyle,
                "credentials": {
                    "fromEnv": False,
                    "secretRef": {
                        "secretName": PIPELINES_SECRET_NAME,
                        "accessKeyKey": KFP_KEY_ID,
                        "secretKeyKey": KFP_KEY_SECRET,
                    },
                },
            }
        }
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": PIPELINES_CONFIG_NAME, "namespace": namespace},
        "data": {
            "defaultPipelineRoot": f"s3://{bucket}/{ctx.settings.pipelineRootPath}",
            # KFP parses this value as YAML; JSON is YAML, and sorted keys keep it stable.
            "providers": json.dumps(providers, sort_keys=True, indent=2),
        },
    }
