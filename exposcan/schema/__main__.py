"""Regenerate the checked-in JSON Schemas: ``python -m exposcan.schema``
(the report's, and the catalogue file's)."""

import json
from pathlib import Path

from exposcan.catalogue import catalogue_schema
from exposcan.models import json_schema

HERE = Path(__file__).parent
SCHEMA_PATH = HERE / "report.schema.json"
CATALOGUE_SCHEMA_PATH = HERE / "catalogue.schema.json"

for path, schema in ((SCHEMA_PATH, json_schema()), (CATALOGUE_SCHEMA_PATH, catalogue_schema())):
    path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    print(path)
