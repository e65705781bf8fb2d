"""The Teams app package: a valid manifest for a personal bot, two icons, zipped for upload."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

from conversations.grammar import VERBS
from tests.schemas import localization_errors, manifest_errors

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "00000000-0000-0000-0000-000000000001"


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def _package(tmp_path) -> Path:
    """Build the package as `make teams-package` does."""
    out = tmp_path / "teams-app.zip"
    result = subprocess.run([sys.executable, "bot/teams/package.py", "--app-id", APP_ID,
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return out


def test_the_package_zips_with_the_app_id_filled_in(tmp_path):
    with zipfile.ZipFile(_package(tmp_path)) as archive:
        assert sorted(archive.namelist()) == ["color.png", "da.json", "manifest.json",
                                              "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        danish = json.loads(archive.read("da.json"))
        assert _size(archive.read("color.png")) == (192, 192)
        assert _size(archive.read("outline.png")) == (32, 32)

    assert manifest["id"] == APP_ID
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID and bot["scopes"] == ["personal"]
    [commands] = bot["commandLists"]
    titles = [c["title"] for c in commands["commands"]]
    assert 0 < len(titles) <= 10 and set(titles) <= set(VERBS)  # Teams allows ten
    assert all(len(c["description"]) <= 128 for c in commands["commands"])
    assert danish["$schema"].split("/")[-2] == manifest["$schema"].split("/")[-2]
    for key in danish:
        if key.startswith("bots[0].commandLists[0].commands["):
            assert int(key.split("commands[")[1].split("]")[0]) < len(titles)


def test_the_package_needs_the_app_id(tmp_path):
    result = subprocess.run([sys.executable, "bot/teams/package.py", "--app-id", "",
                             "--out", str(tmp_path / "x.zip")], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "MICROSOFT_APP_ID" in result.stderr


def test_the_package_is_valid_against_the_manifest_schema_of_its_version(tmp_path):
    """Validated with the published schema of the manifestVersion it declares (tests/schemas)."""
    with zipfile.ZipFile(_package(tmp_path)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        danish = json.loads(archive.read("da.json"))

    version = manifest["manifestVersion"]
    assert manifest["$schema"].endswith(f"/v{version}/MicrosoftTeams.schema.json")
    assert manifest_errors(manifest) == []
    assert localization_errors(danish, version) == []
    assert manifest["bots"][0]["supportsFiles"] is True  # files go by consent card
    # The check bites: what Teams would refuse is refused here too.
    assert manifest_errors({**manifest, "bots": [{**manifest["bots"][0], "botId": "mentor"}]})
    assert manifest_errors({**manifest, "name": {"short": "M" * 31}})
