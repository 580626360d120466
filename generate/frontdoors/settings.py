"""The platform team's settings of the generated front doors: generate/frontdoors/settings.yaml.

Read by `make generate`; what is not set there keeps the default below. docs/frontdoors.md
describes each setting for the platform engineers who adopt the templates.
"""

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field

from function.formats import DNS_1123_SUBDOMAIN
from function.model import StrictModel

SETTINGS_FILE = Path(__file__).resolve().parent / "settings.yaml"

# A host name as Backstage's integrations config names it, with an optional port.
GIT_HOST_PATTERN = DNS_1123_SUBDOMAIN.removesuffix("$") + r"(:[0-9]{1,5})?$"
GitHost = Annotated[str, Field(pattern=GIT_HOST_PATTERN, max_length=253)]


class BackstageSettings(StrictModel):
    """The Software Templates (generate/frontdoors/backstage.py)."""

    gitHosts: list[GitHost] = Field(
        default=["github.com"],
        min_length=1,
        description="Hosts a team may open the pull request on: RepoUrlPicker's allowedHosts. "
        "Each must be a GitHub host (github.com or GitHub Enterprise Server) listed under "
        "integrations.github in Backstage's app-config, since the templates publish with "
        "publish:github:pull-request.",
    )
    owner: str = Field(
        default="group:default/platform-team",
        min_length=1,
        description="The Templates' owner in the catalog (an entity reference).",
    )


class FrontDoorSettings(StrictModel):
    """generate/frontdoors/settings.yaml."""

    backstage: BackstageSettings = BackstageSettings()


def load(path: Path = SETTINGS_FILE) -> FrontDoorSettings:
    """The settings in path; defaults where the file, or a setting, is missing."""
    if not path.exists():
        return FrontDoorSettings()
    raw = yaml.safe_load(path.read_text()) or {}
    return FrontDoorSettings.model_validate(raw, strict=False)
