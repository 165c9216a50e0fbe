"""The docs stay true to the code: every hook is documented, with its arguments."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from meetbridge import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"
HOOKS = [
    (name, fn)
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "meetbridge_spec")
]


def test_there_are_hooks_to_check() -> None:
    assert {"connect", "create_meeting", "update_meeting", "delete_meeting", "disconnect"} <= {
        name for name, _ in HOOKS
    }


@pytest.mark.parametrize(("name", "fn"), HOOKS, ids=[name for name, _ in HOOKS])
def test_every_hook_has_a_reference_section(name: str, fn: object) -> None:
    text = (DOCS / "plugins" / "hooks.md").read_text()
    match = re.search(rf"^## `{name}\((.*?)\)`", text, re.MULTILINE)
    assert match, f"docs/plugins/hooks.md has no section '## `{name}(...)`'"
    documented = [a.strip().split(":")[0] for a in match.group(1).split(",") if a.strip()]
    assert documented == list(inspect.signature(fn).parameters), (
        f"the documented arguments of {name} differ from hookspecs.py"
    )


def test_no_documented_hook_is_missing_from_the_code() -> None:
    text = (DOCS / "plugins" / "hooks.md").read_text()
    documented = set(re.findall(r"^## `(\w+)\(", text, re.MULTILINE))
    assert documented == {name for name, _ in HOOKS}


def test_readme_gives_the_two_commands() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    assert "uv run meetbridge" in readme
    assert "uv run pytest" in readme
