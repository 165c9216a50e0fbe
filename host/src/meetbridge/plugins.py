"""The plugin host: discovery, allow/block lists, tracing, and routing calls to one provider.

Plugins are found through the ``meetbridge`` entry-point group; the built-in Zoom, Google Meet
and Teams plugins are registered exactly that way, so they prove the path third parties take.
Nothing is loaded at import time: :func:`get_plugin_host` builds the host on first use.

Environment controls (read when the host is built):

``MEETBRIDGE_LOAD_PLUGINS``
    Comma-separated allowlist of entry-point names. Set but empty means load none.
``MEETBRIDGE_BLOCK_PLUGINS``
    Comma-separated blocklist; blocked names are never registered.
``MEETBRIDGE_TRACE_PLUGINS=1``
    Log every hook call (arguments with secrets masked, duration, outcome) to the
    ``meetbridge.plugins.trace`` logger.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from meetbridge import hookspecs
from meetbridge.observability import metrics
from meetbridge.providers import ProviderInfo

ENTRY_POINT_GROUP = "meetbridge"
log = logging.getLogger("meetbridge.plugins")
trace_log = logging.getLogger("meetbridge.plugins.trace")

# Argument names whose values are never written to the trace log.
_SECRET_ARGUMENTS = frozenset({"code", "code_verifier", "tokens", "body", "headers", "state"})


class PluginError(Exception):
    """A problem with a plugin; the message names the plugin, the hook and what to do."""


class UnknownProvider(PluginError):
    """The requested provider is not installed, or is blocked."""


class OperationNotSupported(PluginError):
    """The provider's plugin does not implement the requested hook."""


@dataclass(frozen=True)
class PluginFailure:
    name: str
    distribution: str
    error: str


@dataclass(frozen=True)
class PluginRecord:
    """One registered plugin, as ``meetbridge plugins --json`` shows it."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    providers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": list(self.hooks),
            "providers": list(self.providers),
        }


@dataclass
class PluginHost:
    """The built plugin manager plus what the host learned while loading it."""

    pm: pluggy.PluginManager
    failures: list[PluginFailure] = field(default_factory=list)
    blocked: tuple[str, ...] = ()
    _providers: dict[str, ProviderInfo] = field(default_factory=dict)
    _owners: dict[str, str] = field(default_factory=dict)  # provider name -> plugin name
    _distributions: dict[str, tuple[str, str]] = field(default_factory=dict)
    _callers: dict[tuple[str, str], Any] = field(default_factory=dict)

    # -- providers -----------------------------------------------------------------------
    def providers(self) -> dict[str, ProviderInfo]:
        return dict(self._providers)

    def provider(self, name: str) -> ProviderInfo:
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProvider(self._unknown_message(name)) from None

    def _unknown_message(self, name: str) -> str:
        installed = ", ".join(sorted(self._providers)) or "none"
        why = " It is blocked by MEETBRIDGE_BLOCK_PLUGINS." if name in self.blocked else ""
        return (
            f"No plugin provides the conferencing provider {name!r}.{why} Installed: {installed}."
            f" Install meetbridge-{name.replace('_', '-')} (meetbridge plugins install ...) or"
            " pick another location."
        )

    # -- calls -----------------------------------------------------------------------------
    def _caller(self, hook: str, provider: str) -> Any:
        key = (hook, provider)
        if key not in self._callers:
            owner = self._owners[provider]
            others = [
                self.pm.get_plugin(name)
                for name in set(self._owners.values())
                if name != owner and self.pm.get_plugin(name) is not None
            ]
            self._callers[key] = self.pm.subset_hook_caller(hook, remove_plugins=others)
        return self._callers[key]

    def implements(self, hook: str, provider: str) -> bool:
        plugin = self.pm.get_plugin(self._owners.get(provider, ""))
        if plugin is None:
            return False
        return any(
            impl.plugin is plugin and not impl.wrapper and not impl.hookwrapper
            for impl in getattr(self.pm.hook, hook).get_hookimpls()
        )

    async def call(self, hook: str, provider: str, **kwargs: Any) -> Any:
        """Call ``hook`` on the plugin that owns ``provider`` only, awaiting it if async."""
        if hook not in hookspecs.ROUTED_HOOKS:
            raise ValueError(f"{hook!r} is not a provider hook")
        self.provider(provider)  # raises the clear "not installed" error
        if not self.implements(hook, provider):
            raise OperationNotSupported(
                f"The {provider!r} plugin ({self._owners[provider]}) does not implement"
                f" {hook!r}; this provider cannot do that."
            )
        # The one place the host calls a provider: counted and timed here, by outcome
        # (meetbridge_provider_calls_total, ..._call_duration_seconds, ..._rate_limited_total).
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = self._caller(hook, provider)(provider=provider, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        except BaseException as exc:
            outcome = metrics.outcome_of(exc)
            raise
        finally:
            metrics.observe_provider_call(provider, hook, outcome, time.perf_counter() - started)

    # -- listing ----------------------------------------------------------------------------
    def records(self, *, include_host: bool = False) -> list[PluginRecord]:
        records = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda np: np[0]):
            if plugin is None or (name == "meetbridge.hookspecs" and not include_host):
                continue
            dist, version = self._distributions.get(name, (None, None))
            hooks = tuple(sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or []))
            provides = tuple(sorted(p for p, owner in self._owners.items() if owner == name))
            records.append(PluginRecord(name, dist, version, hooks, provides))
        return records


def _parse_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _mask(name: str, value: Any) -> str:
    if name in _SECRET_ARGUMENTS:
        return "***"
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _install_tracer(pm: pluggy.PluginManager) -> None:
    starts: dict[int, float] = {}

    def before(hook_name: str, impls: list[Any], kwargs: Mapping[str, Any]) -> None:
        starts[id(kwargs)] = time.perf_counter()
        args = ", ".join(f"{k}={_mask(k, v)}" for k, v in kwargs.items())
        plugins = ", ".join(pm.get_name(impl.plugin) or "?" for impl in impls)
        trace_log.info("hook %s(%s) -> [%s]", hook_name, args, plugins)

    def after(outcome: Any, hook_name: str, impls: list[Any], kwargs: Mapping[str, Any]) -> None:
        elapsed = (time.perf_counter() - starts.pop(id(kwargs), time.perf_counter())) * 1000
        if outcome.exception is not None:
            trace_log.info(
                "hook %s raised %s (%.1f ms)", hook_name, type(outcome.exception).__name__, elapsed
            )
        else:
            trace_log.info("hook %s returned (%.1f ms)", hook_name, elapsed)

    pm.add_hookcall_monitoring(before, after)


def build_plugin_host(
    *,
    env: Mapping[str, str] | None = None,
    entry_points: Iterable[metadata.EntryPoint] | None = None,
    plugins: Iterable[tuple[str, object]] = (),
) -> PluginHost:
    """Build a fresh plugin host.

    ``env`` defaults to ``os.environ``; ``entry_points`` defaults to the installed
    distributions' ``meetbridge`` group; ``plugins`` registers extra ``(name, object)`` pairs
    (tests use it). The allow/block lists apply to all of them.
    """
    env = os.environ if env is None else env
    allow = _parse_list(env.get("MEETBRIDGE_LOAD_PLUGINS"))
    block = tuple(_parse_list(env.get("MEETBRIDGE_BLOCK_PLUGINS")) or ())
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm=pm, blocked=block)
    for name in block:
        pm.set_blocked(name)
    if env.get("MEETBRIDGE_TRACE_PLUGINS", "").lower() in {"1", "true", "yes", "on"}:
        _install_tracer(pm)

    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)

    candidates: list[tuple[str, Any, tuple[str, str] | None]] = []
    for ep in entry_points:
        dist = (ep.dist.name, ep.dist.version) if ep.dist is not None else None
        if (allow is not None and ep.name not in allow) or ep.name in block:
            continue
        try:
            candidates.append((ep.name, ep.load(), dist))
        except Exception as exc:  # a broken plugin must not take the host down
            host.failures.append(PluginFailure(ep.name, dist[0] if dist else "?", _describe(exc)))
            log.error(
                "Plugin %r (%s) failed to import: %s. It is not loaded; fix or uninstall it.",
                ep.name,
                dist[0] if dist else "?",
                _describe(exc),
            )
    for name, plugin in plugins:
        if (allow is None or name in allow) and name not in block:
            candidates.append((name, plugin, None))

    for name, plugin, dist in candidates:
        _register(host, name, plugin, dist)
    _drop_unknown_hooks(host)
    return host


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _fail(host: PluginHost, name: str, dist: tuple[str, str] | None, message: str) -> None:
    host.failures.append(PluginFailure(name, dist[0] if dist else "?", message))
    log.error("%s", message)


def _register(host: PluginHost, name: str, plugin: object, dist: tuple[str, str] | None) -> None:
    pm = host.pm
    if pm.is_registered(plugin) or pm.has_plugin(name):
        return  # the same module listed twice (e.g. two entry points) is registered once
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        _fail(
            host,
            name,
            dist,
            f"Plugin {name!r}: {exc}. Fix the hook implementation's"
            " signature to accept only arguments its hook specification names"
            " (see docs/plugins/hooks.md).",
        )
        return
    caller = pm.subset_hook_caller(
        "describe_provider",
        remove_plugins=[p for n, p in pm.list_name_plugin() if n != name and p is not None],
    )
    try:
        infos = [info for info in caller() if info is not None]
    except Exception as exc:
        pm.unregister(plugin)
        _fail(host, name, dist, f"Plugin {name!r}: describe_provider raised {_describe(exc)}.")
        return
    # Wrappers (audit, metrics, tracing) may wrap provider hooks without being a provider.
    routed = {
        caller.name
        for caller in pm.get_hookcallers(plugin) or []
        if caller.name in hookspecs.ROUTED_HOOKS
        and any(
            i.plugin is plugin and not (i.wrapper or i.hookwrapper) for i in caller.get_hookimpls()
        )
    }
    if routed and not infos:
        pm.unregister(plugin)
        _fail(
            host,
            name,
            dist,
            f"Plugin {name!r} implements {', '.join(sorted(routed))} but no"
            " describe_provider hook: add one returning a ProviderInfo so the host knows which"
            " provider it serves.",
        )
        return
    for info in infos:
        if inspect.iscoroutine(info):
            info.close()  # never leave a coroutine un-awaited
            pm.unregister(plugin)
            _fail(
                host,
                name,
                dist,
                f"Plugin {name!r}: describe_provider is `async def`. Make it a plain `def`"
                " returning the ProviderInfo: the host reads it once while loading plugins.",
            )
            return
        if not isinstance(info, ProviderInfo) or inspect.isawaitable(info):
            pm.unregister(plugin)
            _fail(
                host,
                name,
                dist,
                f"Plugin {name!r}: describe_provider must return a"
                f" ProviderInfo synchronously, got {type(info).__name__}.",
            )
            return
        if info.name in host._owners:
            owner = host._owners[info.name]
            pm.unregister(plugin)
            theirs = host._distributions.get(owner, ("?", ""))[0]
            _fail(
                host,
                name,
                dist,
                f"Provider {info.name!r} is described by two plugins:"
                f" {owner!r} ({theirs}) and {name!r} ({dist[0] if dist else '?'}). Uninstall"
                " one of them or block it with MEETBRIDGE_BLOCK_PLUGINS.",
            )
            return
    for info in infos:
        host._providers[info.name] = info
        host._owners[info.name] = name
    if dist:
        host._distributions[name] = dist


def _drop_unknown_hooks(host: PluginHost) -> None:
    """Run pluggy's ``check_pending``; unregister plugins implementing unknown hooks."""
    pm = host.pm
    try:
        pm.check_pending()
        return
    except pluggy.PluginValidationError:
        pass
    for name, plugin in list(pm.list_name_plugin()):
        if plugin is None:
            continue
        unknown = [
            c.name
            for c in pm.get_hookcallers(plugin) or []
            if not c.has_spec() and not c.name.startswith("_")
        ]
        optional = {
            impl.function.__name__
            for c in pm.get_hookcallers(plugin) or []
            for impl in c.get_hookimpls()
            if impl.optionalhook
        }
        unknown = [hook for hook in unknown if hook not in optional]
        if unknown:
            pm.unregister(plugin)
            for provider in [p for p, owner in host._owners.items() if owner == name]:
                host._providers.pop(provider)
                host._owners.pop(provider)
            _fail(
                host,
                name,
                host._distributions.get(name),
                f"Plugin {name!r} implements"
                f" unknown hook(s) {', '.join(sorted(unknown))}. Check the spelling against"
                " docs/plugins/hooks.md, or mark it @hookimpl(optionalhook=True).",
            )
    pm.check_pending()


@functools.cache
def get_plugin_host() -> PluginHost:
    """The process-wide plugin host, built on first use from the environment."""
    return build_plugin_host()
