"""``meetbridge plugins new NAME``: a new provider plugin project, ready to fill in.

The project has a pyproject with the ``meetbridge`` entry point, a module whose hooks are
stubs raising ``NotAvailableYet`` (naming the hook and what to write), a test module running
the conformance suite with a harness to complete, and a README. Names follow the built-in
plugins: provider ``webex``, distribution ``meetbridge-webex``, module ``meetbridge_webex``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

_VALID = re.compile(r"^[a-z][a-z0-9_]*$")
_PREFIXES = ("meetbridge-", "meetbridge_")


class ScaffoldError(ValueError):
    """The project cannot be generated; the message says why and what to do."""


@dataclass(frozen=True)
class PluginNames:
    """Every name a plugin project uses, derived from the provider name."""

    provider: str  # webex: stored in the database, used in settings keys
    distribution: str  # meetbridge-webex: what pip installs
    module: str  # meetbridge_webex: what Python imports
    label: str  # Webex: what people read
    class_prefix: str  # Webex: for the harness and test class names

    def substitutions(self) -> dict[str, str]:
        return {
            "provider": self.provider,
            "PROVIDER_UPPER": self.provider.upper(),
            "distribution": self.distribution,
            "module": self.module,
            "label": self.label,
            "Class": self.class_prefix,
        }


def names_for(name: str) -> PluginNames:
    """``"Webex"``, ``"webex"`` or ``"meetbridge-webex"`` -> the names of a webex plugin."""
    raw = name.strip().lower()
    for prefix in _PREFIXES:
        raw = raw.removeprefix(prefix)
    provider = raw.replace("-", "_")
    if not _VALID.match(provider):
        raise ScaffoldError(
            f"{name!r} cannot name a provider: use letters, digits, '-' or '_', starting with a"
            " letter (for example 'webex' or 'whereby')."
        )
    words = [w for w in provider.split("_") if w]
    return PluginNames(
        provider=provider,
        distribution="meetbridge-" + provider.replace("_", "-"),
        module="meetbridge_" + provider,
        label=" ".join(w.capitalize() for w in words),
        class_prefix="".join(w.capitalize() for w in words),
    )


def _template(filename: str) -> Template:
    text = resources.files("meetbridge.plugin_kit").joinpath("templates", filename).read_text()
    return Template(text)


def render(names: PluginNames) -> dict[str, str]:
    """The project's files, by path relative to the project directory."""
    values = names.substitutions()
    files = {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"src/{names.module}/__init__.py": "__init__.py.tmpl",
        f"src/{names.module}/plugin.py": "plugin.py.tmpl",
        f"tests/test_{names.provider}_conformance.py": "test_conformance.py.tmpl",
    }
    return {path: _template(tmpl).substitute(values) for path, tmpl in files.items()}


def create_project(
    name: str, directory: Path | None = None, *, taken: Iterable[str] = ()
) -> tuple[PluginNames, Path, list[str]]:
    """Write the project; returns its names, its directory and the files written.

    ``taken`` are provider names already installed: a second plugin describing one of them
    would be refused by the plugin host, so the name is refused here already.
    """
    names = names_for(name)
    if names.provider in set(taken):
        raise ScaffoldError(
            f"A provider named {names.provider!r} is already installed; pick another name (the"
            " plugin host refuses two plugins describing the same provider)."
        )
    target = directory if directory is not None else Path.cwd() / names.distribution
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(
            f"{target} already exists and is not an empty directory; choose another with"
            " --directory, or remove it."
        )
    written = []
    for relative, text in render(names).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(relative)
    return names, target, written
