"""The platforms' own published schemas, kept for tests (sources and licences in README.md).

`card_errors` and `manifest_errors` list what is wrong, as readable lines; empty means valid.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft4Validator, Draft6Validator

HERE = Path(__file__).resolve().parent


@cache
def _validator(name: str):
    schema = json.loads((HERE / name).read_text(encoding="utf-8"))
    kind = Draft6Validator if "draft-06" in schema.get("$schema", "") else Draft4Validator
    kind.check_schema(schema)
    return kind(schema)


def _errors(name: str, document: dict) -> list[str]:
    """Each error as its most specific cause (a card is an `anyOf` of every element type)."""
    return [f"{'/'.join(map(str, cause.absolute_path)) or '(top)'}: {cause.message[:200]}"
            for error in _validator(name).iter_errors(document) for cause in _causes(error)]


def _causes(error) -> list:
    """Inside an `anyOf`, the errors of the branch for the element's own `type`."""
    if not error.context:
        return [error]
    branches: dict = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    mine = [errors for errors in branches.values()
            if not any(e.validator == "enum" and list(e.absolute_path)[-1:] == ["type"]
                       for e in errors)]
    if len(mine) != 1:
        return [error]
    return [cause for sub in mine[0] for cause in _causes(sub)]


def card_errors(card: dict) -> list[str]:
    """Against the schema of the version the card declares, plus the rule Microsoft's card
    library warns about: a required input says what is missing (`errorMessage`)."""
    errors = _errors(f"adaptive-card-{card.get('version')}.json", card)
    for element in card.get("body", []):
        if str(element.get("type", "")).startswith("Input.") and element.get("isRequired") \
                and not element.get("errorMessage"):
            errors.append(f"{element.get('id')}: a required input without an errorMessage")
    return errors


def manifest_errors(manifest: dict) -> list[str]:
    return _errors(f"MicrosoftTeams-{manifest.get('manifestVersion')}.schema.json", manifest)


def localization_errors(strings: dict, manifest_version: str) -> list[str]:
    return _errors(f"MicrosoftTeams.Localization-{manifest_version}.schema.json", strings)
