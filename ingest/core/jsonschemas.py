"""JSON Schema files for every payload, shipped in the package.

The files under `ingest/core/schemas/` are generated from the models in
`ingest.core.models` by `python -m ingest.core.jsonschemas` and committed, so
that topic consumers in other languages can read the contract without Python;
a test fails when a model changes and the files were not regenerated.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from ingest.core.models import PAYLOADS

SCHEMA_DIR = Path(__file__).with_name("schemas")


def generate() -> dict[str, str]:
    """ce_type → the schema file's text, as the models define it today."""
    out: dict[str, str] = {}
    for payload in PAYLOADS:
        schema = payload.model_json_schema(mode="serialization")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"urn:news-ingest:schema:{payload.ce_type}"
        out[payload.ce_type] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


@cache
def validator(ce_type: str) -> Draft202012Validator:
    """A validator for one payload type, from the shipped schema file."""
    text = files("ingest.core").joinpath("schemas", f"{ce_type}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return Draft202012Validator(schema)


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for ce_type, text in generate().items():
        (SCHEMA_DIR / f"{ce_type}.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
