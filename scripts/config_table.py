"""Rewrite README.md's configuration table from Settings (run after adding a setting).

    .venv/bin/python scripts/config_table.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from convobase.config import Settings

README = Path(__file__).resolve().parent.parent / "README.md"
HEADER = "| Variable | Default | Meaning |\n|---|---|---|\n"
# Defaults too long for a table cell.
SHORT = {"upload_allowed_types": "images, PDF, text, JSON, audio, video, Office"}


def shown(name: str, default: Any) -> str:
    if name in SHORT:
        return f"`{SHORT[name]}`"
    if default is None:
        return "`—`"
    if default == "":
        return "(empty)"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, list):
        return f"`{json.dumps(default)}`"
    return f"`{default}`"


def table() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        variable = f"`CONVOBASE_{name.upper()}`"
        rows.append(f"| {variable} | {shown(name, default)} | {field.description} |")
    return HEADER + "\n".join(rows)


def main() -> None:
    text = README.read_text()
    start = text.index(HEADER)
    end = text.index("\n\n", start)
    README.write_text(text[:start] + table() + text[end:])


if __name__ == "__main__":
    main()
