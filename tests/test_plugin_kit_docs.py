"""The plugin author's guide stays true to the code.

Code blocks marked ``<!-- source: path -->`` must appear word for word in that file (so the
tutorial is the Jitsi plugin as it is, not as it was), tables must match the capability model
and the harness, links must lead somewhere, and the versioning example must run.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from meetbridge import hookspecs
from meetbridge.plugins import build_plugin_host
from meetbridge.providers import Capability
from meetbridge.testing import conformance
from meetbridge.testing.conformance.checks import CAPABILITY_HOOKS, HOOK_CAPABILITIES

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins"
PAGES = ("hooks", "tutorial", "capabilities", "sandbox", "packaging", "testing", "versioning")
SNIPPET = re.compile(r"<!-- source: (\S+) -->\n```\w*\n(.*?)```", re.DOTALL)
JITSI = ROOT / "plugins" / "jitsi"


def _text(page: str) -> str:
    return (GUIDE / f"{page}.md").read_text()


def _snippets() -> list[tuple[str, str, str]]:
    return [(page, source, code) for page in PAGES for source, code in SNIPPET.findall(_text(page))]


def test_every_page_of_the_guide_exists() -> None:
    assert sorted(p.stem for p in GUIDE.glob("*.md")) == sorted(PAGES)


@pytest.mark.parametrize(
    ("page", "source", "code"),
    _snippets(),
    ids=[
        f"{page}:{source.rsplit('/', 1)[-1]}:{i}" for i, (page, source, _) in enumerate(_snippets())
    ],
)
def test_a_marked_snippet_is_in_its_source_file(page: str, source: str, code: str) -> None:
    text = (ROOT / source).read_text()
    assert code.strip("\n") in text, (
        f"docs/plugins/{page}.md shows code that {source} no longer has"
    )


def test_the_tutorial_shows_every_file_of_the_jitsi_plugin() -> None:
    shown = {source for page, source, _ in _snippets() if page == "tutorial"}
    files = {str(p.relative_to(ROOT)) for p in (JITSI / "src" / "meetbridge_jitsi").glob("*.py")}
    files -= {"plugins/jitsi/src/meetbridge_jitsi/__init__.py"}
    assert files | {"plugins/jitsi/pyproject.toml"} <= shown
    assert "plugins/jitsi/tests/test_jitsi_conformance.py" in shown


def test_the_tutorial_shows_every_hook_the_jitsi_plugin_implements() -> None:
    source = (JITSI / "src" / "meetbridge_jitsi" / "plugin.py").read_text()
    hooks = re.findall(r"@hookimpl\n(?:async )?def (\w+)\(", source)
    assert set(hooks) == {"describe_provider", "create_meeting", "update_meeting", "delete_meeting"}
    tutorial_code = "\n".join(code for page, _, code in _snippets() if page == "tutorial")
    for hook in hooks:
        if hook != "update_meeting":  # shown by its body, the part worth reading
            assert f"def {hook}(" in tutorial_code, hook


def test_the_tutorial_and_the_entry_point_agree() -> None:
    pyproject = (JITSI / "pyproject.toml").read_text()
    assert '[project.entry-points.meetbridge]\njitsi = "meetbridge_jitsi.plugin"' in pyproject
    assert 'jitsi = "meetbridge_jitsi.plugin"' in _text("packaging")


def test_relative_links_and_repository_paths_resolve() -> None:
    for page in PAGES:
        text = _text(page)
        for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (GUIDE / link).exists(), f"{page}.md links to missing {link}"
        for path in re.findall(r"`((?:plugins|host|tests|docs)/[\w./-]+)`", text):
            if "*" not in path:
                assert (ROOT / path.rstrip(".")).exists(), f"{page}.md names missing {path}"


def _capability_rows() -> dict[str, set[str]]:
    rows = {}
    for value, hooks in re.findall(
        r"^\| `(\w+)` \| `[A-Z_]+` \| ([^|]*) \|", _text("capabilities"), re.M
    ):
        rows[value] = set(re.findall(r"`(\w+)`", hooks.split("(")[0]))
    return rows


def test_the_capability_table_matches_the_model_and_the_checks() -> None:
    rows = _capability_rows()
    assert set(rows) == {c.value for c in Capability}
    for hook, capability in HOOK_CAPABILITIES.items():
        assert hook in rows[capability.value], (hook, capability)
    for capability, hooks in CAPABILITY_HOOKS.items():
        assert set(hooks) <= rows[capability.value]


def test_the_built_in_matrix_matches_what_the_providers_declare() -> None:
    text = _text("capabilities")
    header = re.search(r"^\| capability \| (.+) \|$", text, re.M)
    assert header
    providers = [p.strip() for p in header.group(1).split("|")]
    installed = build_plugin_host(env={}).providers()
    for value, cells in re.findall(r"^\| `(\w+)` \| ((?:(?:yes|no) \| )+)", text + "\n", re.M):
        marks = [c.strip() for c in cells.split("|") if c.strip()]
        for provider, mark in zip(providers, marks, strict=True):
            if provider in installed:  # jitsi only once it is installed
                assert (mark == "yes") == installed[provider].supports(Capability(value)), (
                    provider,
                    value,
                )


def test_every_hook_section_says_when_it_fires_what_it_returns_and_how_results_combine() -> None:
    sections = re.split(r"^## `", _text("hooks"), flags=re.M)[1:]
    specs = {
        n
        for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(f, "meetbridge_spec")
    }
    assert {s.split("(")[0] for s in sections} == specs
    for section in sections:
        name = section.split("(")[0]
        for part in ("**Fires:**", "**Returns:**", "**Combines:**", "```python"):
            assert part in section, f"hooks.md: {name} lacks {part}"


def test_the_testing_page_documents_the_harness_the_contracts_and_the_fixtures() -> None:
    text = _text("testing")
    members = [
        n
        for n, _ in inspect.getmembers(conformance.ProviderHarness)
        if not n.startswith("_") and n != "http"
    ]
    for member in members:
        assert f"`{member}" in text, f"testing.md does not document ProviderHarness.{member}"
    for name in conformance.__all__:
        if name.endswith("Contract"):
            assert f"`{name}`" in text
    for fixture in ("plugin_host", "register_plugin", "provider_sandbox", "provider_harness"):
        assert f"`{fixture}`" in text
    for word in (*conformance.OPERATIONS, *conformance.FAULTS):
        assert f"`{word}`" in text


def test_the_versioning_example_runs() -> None:
    [example] = re.findall(r"```python\n(.*?)```", _text("versioning"), re.DOTALL)
    exec(compile(example, "docs/plugins/versioning.md", "exec"), {})  # noqa: S102 - our own doc


def test_every_installed_sandbox_follows_the_convention() -> None:
    for name, info in build_plugin_host(env={}).providers().items():
        if not info.sandbox_app:
            continue
        module = importlib.import_module(info.sandbox_app.split(":")[0])
        for attribute in ("create_app", "SandboxState", "sandbox_endpoints"):
            assert hasattr(module, attribute), f"{name}'s sandbox has no {attribute}"
        endpoints = module.sandbox_endpoints("http://127.0.0.1:1")
        assert set(endpoints) <= set(info.endpoints), f"{name}: endpoints it does not declare"
