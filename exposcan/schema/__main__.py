"""Regenerate the checked-in JSON Schema: ``python -m exposcan.schema``."""

import json
from pathlib import Path

from exposcan.models import json_schema

SCHEMA_PATH = Path(__file__).parent / "report.schema.json"

SCHEMA_PATH.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
print(SCHEMA_PATH)
