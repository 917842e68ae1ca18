"""Examples read from the contract itself (../shared/spec/videos-api.txt)."""

import json
from pathlib import Path

CONTRACT = Path(__file__).parents[3] / "shared" / "spec" / "videos-api.txt"


def _json_after(marker: str, start_after: str) -> dict:
    text = CONTRACT.read_text()
    start = text.index("{", text.index(marker, text.index(start_after)))
    return json.JSONDecoder().raw_decode(text[start:])[0]


def contract_list_response() -> dict:
    return _json_after("Response example", "List video archives")


def contract_create_response() -> dict:
    return _json_after("Response example", "Add a new video archive")
