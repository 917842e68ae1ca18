"""docs/configuration.md, generated from the settings classes: `python -m tests.configuration_doc`.

Each setting's row says its environment variable, type, default and meaning. The meaning is the
field's `description`, or else the comment above the field in its class (the settings classes
explain their fields in comments, read where they are declared). `make docs` writes the
document; `tests/test_configuration_doc.py` fails when it is out of date.
"""

import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any, get_args

from annotated_types import Ge, Gt, Le, Lt, MultipleOf
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from vidar.settings import VidarSettings
from vidar_detector.settings import DetectorSettings
from vidar_gateway.records.webhooks.settings import WebhookSettings
from vidar_gateway.search.settings import SearchSettings
from vidar_scheduler.settings import SchedulerSettings
from vidar_storage.settings import StorageSettings

DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
SECTIONS: list[tuple[str, type[VidarSettings]]] = [
    ("Every service", VidarSettings),
    ("gateway", SearchSettings),
    ("gateway: webhooks", WebhookSettings),
    ("storage", StorageSettings),
    ("scheduler", SchedulerSettings),
    ("detector", DetectorSettings),
]
HEADER = """# Configuration

Generated from the settings classes by `make docs` (`python -m tests.configuration_doc`); do not
edit by hand. Every service reads its settings from environment variables with the prefix
`VIDAR_` (pydantic-settings): `VIDAR_MAX_IN_FLIGHT=4` sets the scheduler's `max_in_flight`. A
value that is not valid stops the service at start with an error naming the variable. Lists and
objects are JSON.
"""
BOUNDS = {Gt: ">", Ge: ">=", Lt: "<", Le: "<="}


def document() -> str:
    parts = [HEADER]
    listed: set[tuple[type, str]] = set()
    for title, settings in SECTIONS:
        parts.append(f"## {title}\n\n| variable | type | default | meaning |\n|---|---|---|---|")
        fields = own_fields(settings, listed)
        listed |= {(declarer(settings, name), name) for name, _ in fields}
        parts.extend(row(settings, name, field) for name, field in fields)
        parts[-1] += "\n"
    return "\n".join(parts)


def own_fields(settings: type[VidarSettings], listed: set[tuple[type, str]]) -> list[tuple[str, FieldInfo]]:
    """The fields a service's class declares or overrides that no section above lists (the shared
    ones, and a service's base class's, are listed once)."""
    return [
        (name, field) for name, field in settings.model_fields.items() if (declarer(settings, name), name) not in listed
    ]


def declarer(settings: type, name: str) -> type:
    return next(cls for cls in settings.__mro__ if name in getattr(cls, "__annotations__", {}))


def row(settings: type[VidarSettings], name: str, field: FieldInfo) -> str:
    cells = [f"`VIDAR_{name.upper()}`", kind(field), default(field), meaning(settings, name, field)]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def kind(field: FieldInfo) -> str:
    annotation = field.annotation
    choices = get_args(annotation) if getattr(annotation, "__origin__", None) is not None else ()
    text = "one of " + ", ".join(f"`{c}`" for c in choices) if is_literal(annotation) else type_name(annotation)
    bounds = [f"{BOUNDS[type(m)]} {getattr(m, type(m).__name__.lower())}" for m in field.metadata if type(m) in BOUNDS]
    bounds += [f"a multiple of {m.multiple_of}" for m in field.metadata if isinstance(m, MultipleOf)]
    return ", ".join([text, *bounds])


def is_literal(annotation: Any) -> bool:
    return str(getattr(annotation, "__origin__", "")) == "typing.Literal"


def type_name(annotation: Any) -> str:
    name = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return re.sub(r"\b(typing|pathlib|pydantic\.types|vidar\.models\.\w+)\.", "", name)


def default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        return f"`{json.dumps(value)}`" if isinstance(value, list | dict) else "set at start"
    value = field.default
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "a development secret"
    if isinstance(value, BaseModel):
        return "see its meaning"
    return f"`{json.dumps(value) if isinstance(value, bool) else value}`"


def meaning(settings: type, name: str, field: FieldInfo) -> str:
    """The field's description, or the comment above it where it is declared (or, for an override
    with none, where the class it overrides declares it)."""
    if field.description:
        return field.description
    classes = [cls for cls in settings.__mro__ if name in getattr(cls, "__annotations__", {})]
    comments = (" ".join(comment_above(inspect.getsource(cls).splitlines(), name)) for cls in classes)
    return next((comment for comment in comments if comment), "")


def comment_above(lines: list[str], name: str) -> list[str]:
    """The comment lines right above field `name`'s declaration: each field says what it means
    itself, since a comment over a group of fields says too little of each."""
    index = next(i for i, line in enumerate(lines) if re.match(rf"\s+{name}\s*:", line))
    comment: list[str] = []
    while index > 0 and lines[index - 1].strip().startswith("#"):
        index -= 1
        comment.insert(0, lines[index].strip().removeprefix("#").strip())
    return comment


def main() -> None:
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if DOCUMENT.read_text() == document() else f"{DOCUMENT} is out of date: run `make docs`")
    DOCUMENT.write_text(document())


if __name__ == "__main__":
    main()
