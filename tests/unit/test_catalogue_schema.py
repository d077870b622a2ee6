"""The catalogue's published JSON Schema (exposcan/schema/catalogue.schema.json):
generated from the registered kinds, checked in, and true to the shipped files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from exposcan.catalogue import catalogue_dir, catalogue_files, catalogue_schema

SCHEMA = Path(__file__).resolve().parents[2] / "exposcan" / "schema" / "catalogue.schema.json"


def test_checked_in_catalogue_schema_is_the_generated_one() -> None:
    # Given the registered kinds, When their schema is generated,
    # Then it equals the checked-in file (regenerate: python -m exposcan.schema)
    assert json.loads(SCHEMA.read_text()) == json.loads(json.dumps(catalogue_schema()))


def test_every_shipped_file_validates_against_the_schema() -> None:
    # Given the published schema and the shipped catalogue
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    files = catalogue_files(catalogue_dir())
    assert files
    for path in files:
        # When each file is validated, Then it passes
        doc = yaml.safe_load(path.read_text())
        errors = [e.message for e in validator.iter_errors(doc)]
        assert not errors, f"{path}: {errors[:2]}"


def test_the_schema_refuses_a_misspelt_field() -> None:
    # Given a rule whose severity key is misspelt
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    path = catalogue_dir() / "rules" / "dicom.query-open.yaml"
    doc = yaml.safe_load(path.read_text().replace("  severity:", "  severty:", 1))
    # When it is validated, Then the schema refuses it
    assert not validator.is_valid(doc)
