"""Validate the rendered output of every example case, offline.

What is checked:

  (a) every non-core resource (the XR: rendered status merged over the case's
      xr.yaml; composed resources; compositions/*.yaml with their pipeline
      inputs; xrds/*.yaml) with
      `crossplane resource validate` against $SHARED/crds + xrds/ + package/input/.
      It runs offline: the Crossplane core image's cache dir is pre-created under
      .cache/validate/ and seeded with $SHARED/crds/crossplane/*.yaml, so
      Compositions and XRDs are checked too. Zero failures AND zero missing
      schemas are required (parsed from the CLI's "Total ..." summary line).
  (b) core kinds (apiVersion "v1", "apps/v1", ... : no dot in the group) with the
      `jsonschema` package against
      $SHARED/schemas/kubernetes-json-schema/v1.36.0-standalone-strict/<kind>[-<group>]-<version>.json
      (strict: unknown fields are errors). A missing schema file is an error.
  (c) spec.forProvider.values of every composed provider-helm Release whose chart
      has a values schema in $SHARED/schemas/charts/ (see harness.schemas).

Where the rendered output comes from:
  default             render every case now (starts the function; see harness.render)
  --rendered-dir DIR  read DIR/<kind>/<case>.yaml (written by `harness.render --out-dir`)
  --from-expected     use examples/<kind>/<case>/expected.yaml
Cases with expected-error.txt have no output and are skipped.

$SHARED (or --shared) defaults to <root>/../shared; if it has no crds/ the files
downloaded by `make deps` in <root>/.cache/upstream are used.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import yaml

from function.structs import api_group
from harness.cases import JSON, Case, find_cases, identity, load_yaml_docs
from harness.paths import ROOT, ToolMissingError, Tools, shared_dir
from harness.process import exit_on_sigterm
from harness.render import Renderer, add_case_arguments
from harness.schemas import JsonSchemas, check_core, check_helm_values, is_core, is_helm_release
from harness.server import FunctionServer

# Output kinds of `crossplane composition render` that are not cluster objects.
RENDER_PSEUDO_GROUPS = ("render.crossplane.io",)
DEFAULT_CROSSPLANE_VERSION = "v2.3.4"

SUMMARY_RE = re.compile(
    r"^Total (\d+) resources: (\d+) missing schemas, "
    r"(\d+) success cases, (\d+) failure cases$",
    re.M,
)

Outputs = tuple[dict[str, str], list[str]]  # ({case id: rendered YAML}, problems)


@dataclasses.dataclass
class Report:
    """What was validated and what failed."""

    failures: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    crossplane_output: str = ""
    crossplane_total: int = 0
    missing_schemas: int = 0
    crossplane_valid: int = 0
    crossplane_invalid: int = 0
    core_checked: int = 0
    helm_values_checked: int = 0
    cases: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures and self.missing_schemas == 0 and self.crossplane_invalid == 0

    def summary(self) -> str:
        return (
            f"validate: {self.cases} case(s); crossplane resource validate: "
            f"{self.crossplane_total} resources, {self.missing_schemas} missing schemas, "
            f"{self.crossplane_valid} valid, {self.crossplane_invalid} invalid; "
            f"core kinds (jsonschema): {self.core_checked}; "
            f"helm values: {self.helm_values_checked}; "
            f"failures: {len(self.failures)} -> {'OK' if self.ok else 'FAILED'}"
        )


# ---------------------------------------------------------------- crossplane resource validate


def crossplane_image() -> str:
    """The Crossplane image whose built-in CRDs the CLI wants ($CROSSPLANE_IMAGE)."""
    return os.environ.get(
        "CROSSPLANE_IMAGE",
        f"xpkg.crossplane.io/crossplane/crossplane:{DEFAULT_CROSSPLANE_VERSION}",
    )


def prepare_cache_dir(cache: Path, shared: Path, image: str) -> Path:
    """Pre-create the validate cache entry of the Crossplane image (no download)."""
    entry = cache / image.replace(":", "@") / "crds" / "crossplane"
    entry.mkdir(parents=True, exist_ok=True)
    for src in sorted((shared / "crds" / "crossplane").glob("*.yaml")):
        dst = entry / src.name
        if not dst.exists() or dst.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, dst)
    return cache


def run_crossplane_validate(
    crossplane: Path,
    extensions: Sequence[Path],
    resources: Sequence[Path],
    cache_dir: Path,
    image: str,
) -> tuple[int, str]:
    """(exit code, stdout + stderr) of `crossplane resource validate`."""
    cmd = [
        str(crossplane),
        "resource",
        "validate",
        ",".join(str(p) for p in extensions),
        ",".join(str(p) for p in resources),
        "--cache-dir",
        str(cache_dir),
        "--crossplane-image",
        image,
        "--error-on-missing-schemas",
    ]
    p = subprocess.run(
        cmd,
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return p.returncode, p.stdout + p.stderr


def parse_crossplane_output(report: Report, rc: int, out: str, expected_docs: int) -> None:
    """Fill report from `crossplane resource validate` output and exit code."""
    report.crossplane_output = out
    m = SUMMARY_RE.search(out)
    if m is None:
        report.failures.append(
            f"crossplane resource validate (exit {rc}) printed no summary:\n{out}"
        )
        return
    total, missing, valid, invalid = (int(g) for g in m.groups())
    report.crossplane_total, report.missing_schemas = total, missing
    report.crossplane_valid, report.crossplane_invalid = valid, invalid
    report.failures += [
        f"crossplane: {line}" for line in out.splitlines() if line.startswith(("[x]", "[!]"))
    ]
    if missing:
        report.failures.append(f"crossplane resource validate: {missing} missing schema(s)")
    if invalid:
        report.failures.append(f"crossplane resource validate: {invalid} failure(s)")
    if rc != 0 and not (missing or invalid):
        report.failures.append(f"crossplane resource validate exited {rc}:\n{out}")
    if total < expected_docs:
        report.failures.append(
            f"crossplane resource validate checked {total} resources, "
            f"expected at least {expected_docs}"
        )


# ---------------------------------------------------------------- sorting documents


class _Collector:
    """Checks core kinds / Helm values now; gathers the rest into files for the CLI."""

    def __init__(self, shared: Path, tmpdir: Path, report: Report) -> None:
        self.shared, self.tmpdir, self.report = shared, tmpdir, report
        self.schemas = JsonSchemas()
        self.paths: list[Path] = []
        self.docs = 0

    def add(self, source: str, docs: list[JSON]) -> None:
        xp_docs = []
        for doc in docs:
            if api_group(str(doc.get("apiVersion", ""))) in RENDER_PSEUDO_GROUPS:
                continue
            if is_core(doc):
                self.report.core_checked += 1
                self.report.failures += check_core(self.shared, self.schemas, source, doc)
            else:
                xp_docs.append(doc)
            if is_helm_release(doc):
                checked, errs = check_helm_values(self.shared, self.schemas, source, doc)
                self.report.helm_values_checked += int(checked)
                self.report.failures += errs
        if xp_docs:
            f = self.tmpdir / (re.sub(r"[^A-Za-z0-9_.-]+", "__", source) + ".yaml")
            f.write_text(yaml.safe_dump_all(xp_docs, sort_keys=False))
            self.paths.append(f)
            self.docs += len(xp_docs)


def deep_merge(base: JSON, override: JSON) -> JSON:
    """base with override's values on top (dicts merged recursively, lists replaced)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def with_input_xr(rendered_xr: JSON, case: Case) -> JSON:
    """The rendered XR merged over the case's xr.yaml, if they are the same object."""
    inputs = load_yaml_docs(case.xr)
    if not inputs:
        return rendered_xr
    xr = inputs[0]
    return deep_merge(xr, rendered_xr) if identity(xr) == identity(rendered_xr) else rendered_xr


def _yaml_dirs(*dirs: Path) -> list[Path]:
    return [d for d in dirs if d.is_dir() and any(d.rglob("*.y*ml"))]


def validate_outputs(
    outputs: dict[str, str],
    root: Path = ROOT,
    shared: Path | None = None,
    crossplane: Path | None = None,
    *,
    extra_resources: Iterable[Path] = (),
    include_project_files: bool = True,
) -> Report:
    """Validate rendered outputs {case id: multi-doc YAML}.

    The first document of a case's output (the XR) is validated merged over the
    case's xr.yaml. include_project_files also validates compositions/ (with
    their pipeline inputs) and xrds/ as resources.
    """
    shared = shared or shared_dir(root)
    crossplane = crossplane or Tools.locate(root).crossplane
    report = Report(cases=len(outputs))
    image = crossplane_image()
    cache_dir = prepare_cache_dir(root / ".cache" / "validate" / "xpkg-cache", shared, image)

    with tempfile.TemporaryDirectory(prefix="validate-") as tmp:
        collect = _Collector(shared, Path(tmp), report)
        cases = {c.id: c for c in find_cases(root)}
        for case_id, text in sorted(outputs.items()):
            docs = [d for d in yaml.safe_load_all(text) if d]
            if case_id in cases and docs:
                # The CLI prints only the XR's name and status (no -x): validate
                # the XR as the cluster would hold it, input XR + rendered status.
                docs[0] = with_input_xr(docs[0], cases[case_id])
            collect.add(f"{case_id} (rendered)", docs)
        project_dirs: list[Path] = []
        if include_project_files:
            project_dirs = _yaml_dirs(root / "compositions", root / "xrds")
            # Install manifests, base and components: Crossplane's RBAC (core kinds, checked
            # one by one), the packages and their runtime config, the Operations, the
            # monitoring objects; not the kustomizations that list them.
            manifests = [
                p
                for p in sorted((root / "install").rglob("*.yaml"))
                if p.name != "kustomization.yaml"
            ]
            extra_resources = [*manifests, *extra_resources]
        for extra in extra_resources:
            collect.add(str(extra), load_yaml_docs(extra))

        extensions = [shared / "crds", *_yaml_dirs(root / "xrds", root / "package" / "input")]
        resources = collect.paths + project_dirs
        if not resources:
            report.notes.append("no non-core resources to validate with crossplane")
            return report
        rc, out = run_crossplane_validate(crossplane, extensions, resources, cache_dir, image)
        parse_crossplane_output(report, rc, out, collect.docs)
    return report


# ---------------------------------------------------------------- collecting outputs


def _outputs_from_files(
    root: Path, filters: Sequence[str], file_of: Callable[[Case], Path], what: str
) -> Outputs:
    """Each case's output read from file_of(case); a missing file is a problem."""
    outputs, problems = {}, []
    for case in find_cases(root, filters):
        if case.expects_error:
            continue
        f = file_of(case)
        if f.is_file():
            outputs[case.id] = f.read_text()
        else:
            problems.append(f"{case.id}: no {what} {f}")
    return outputs, problems


def outputs_from_dir(root: Path, rendered_dir: Path, filters: Sequence[str]) -> Outputs:
    """Outputs written by `harness.render --out-dir rendered_dir`."""
    return _outputs_from_files(
        root, filters, lambda c: rendered_dir / c.kind / f"{c.name}.yaml", "rendered output"
    )


def outputs_from_expected(root: Path, filters: Sequence[str]) -> Outputs:
    """The golden files, examples/<kind>/<case>/expected.yaml."""
    return _outputs_from_files(root, filters, lambda c: c.expected, "expected.yaml")


def outputs_by_rendering(
    root: Path,
    filters: Sequence[str],
    python: str | None,
    target: str | None,
    jobs: int,
) -> Outputs:
    """Render the cases now (starting the function unless target is given)."""
    outputs, problems = {}, []
    tools = Tools.locate(root)
    cases = [c for c in find_cases(root, filters) if not c.expects_error]
    with (
        FunctionServer(root, python=python, target=target) as server,
        Renderer(tools, server.target, root) as renderer,
    ):
        for result in renderer.render_all(cases, jobs=jobs):
            if result.ok:
                outputs[result.case.id] = result.stdout
            else:
                problems.append(
                    f"{result.case.id}: render exited {result.returncode}:\n" + result.stderr
                )
    return outputs, problems


# ---------------------------------------------------------------- CLI


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_case_arguments(p)
    p.add_argument(
        "--shared",
        help="dir with crds/ and schemas/ (default: $SHARED or <root>/../shared)",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--rendered-dir", type=Path, help="outputs written by `harness.render --out-dir`"
    )
    src.add_argument("--from-expected", action="store_true", help="validate expected.yaml files")
    p.add_argument("-v", "--verbose", action="store_true", help="print the full crossplane output")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = args.root.resolve()
    exit_on_sigterm()

    try:
        shared = shared_dir(root, args.shared)
        crossplane = Tools.locate(root).crossplane
        if args.rendered_dir:
            outputs, problems = outputs_from_dir(root, args.rendered_dir, args.filters)
        elif args.from_expected:
            outputs, problems = outputs_from_expected(root, args.filters)
        else:
            outputs, problems = outputs_by_rendering(
                root, args.filters, args.python, args.target, args.jobs
            )
    except (ToolMissingError, FileNotFoundError) as e:
        print(f"validate: {e}", file=sys.stderr)
        return 2

    print(f"validate: schemas from {shared}", file=sys.stderr)
    report = validate_outputs(outputs, root, shared, crossplane)
    report.failures[:0] = problems
    if args.verbose or not report.ok:
        print(report.crossplane_output, end="")
    for note in report.notes:
        print(f"note: {note}")
    for failure in report.failures:
        print(f"FAIL {failure}")
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
