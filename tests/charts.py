"""A pinned chart rendered as Helm renders it: `helm template` of $SHARED/charts/<chart>."""

import subprocess
from pathlib import Path

import yaml

from function.structs import JSON
from harness.paths import go_tool


def helm_template(chart: Path, release: str, namespace: str, values: JSON, tmp: Path) -> list[JSON]:
    """The chart's manifests for a release of these values in namespace."""
    path = tmp / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    out = subprocess.run(
        [str(go_tool("helm")), "template", release, str(chart), "-n", namespace, "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # Trailing whitespace means nothing in YAML, but PyYAML refuses a trailing tab, which the
    # Valkey chart's StatefulSet has (templates/statefulset.yaml "apiVersion: v1<tab>").
    text = "\n".join(line.rstrip(" \t") for line in out.splitlines())
    return [d for d in yaml.safe_load_all(text) if d]
