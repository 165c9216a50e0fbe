"""Static checks of a plugin object: what can be told without calling the provider.

:func:`check_plugin` reads a plugin's hook implementations and its ``describe_provider`` answer
and returns one message per problem, each naming the plugin, the hook and the fix. The
conformance suite asserts there are none; authors can call it directly
(``python -c "from meetbridge.testing.conformance import check_plugin; ..."``) or from a test.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable

import pluggy

from meetbridge import hookspecs
from meetbridge.providers import AuthKind, Capability, ProviderInfo

# A hook the host calls only for providers that declare the capability; implementing one
# without declaring it (or the reverse) means the host and the plugin disagree.
HOOK_CAPABILITIES: dict[str, Capability] = {
    "authorization_url": Capability.CONNECT,
    "connect": Capability.CONNECT,
    "refresh_credentials": Capability.REFRESH,
    "handle_webhook": Capability.WEBHOOKS,
    "list_rooms": Capability.ROOMS,
    "preflight": Capability.PREFLIGHT,
    "get_host_join_url": Capability.HOST_JOIN_URL,
}
# Capabilities that need hooks beyond the one-to-one table above.
CAPABILITY_HOOKS: dict[Capability, tuple[str, ...]] = {
    Capability.REVOKE: ("disconnect",),
}
# Capabilities that only make sense with a connect step.
NEEDS_CONNECT = (Capability.ACCOUNT_LEVEL, Capability.REFRESH, Capability.REVOKE)
# Every provider makes, moves and removes meetings.
REQUIRED_HOOKS = ("describe_provider", "create_meeting", "update_meeting", "delete_meeting")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
DOCS = "docs/plugins/hooks.md"


def _specs() -> dict[str, list[str]]:
    return {
        name: list(inspect.signature(fn).parameters)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, f"{hookspecs.PROJECT_NAME}_spec")
    }


def hook_implementations(plugin: object) -> dict[str, object]:
    """The plugin's ``@hookimpl`` functions by hook name (read the way pluggy reads them)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    found: dict[str, object] = {}
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        impl = getattr(plugin, attr)
        if opts.get("wrapper") or opts.get("hookwrapper"):
            continue  # wrappers serve cross-cutting plugins, not providers
        found[opts.get("specname") or attr] = impl
    return found


def _arguments(impl: object) -> list[str]:
    params = inspect.signature(impl).parameters  # type: ignore[arg-type]
    return [name for name in params if name != "self"]


def check_signatures(name: str, impls: dict[str, object]) -> list[str]:
    specs = _specs()
    problems = []
    for hook, impl in sorted(impls.items()):
        if hook not in specs:
            problems.append(
                f"Plugin {name!r} implements {hook!r}, which is not a meetbridge hook. Check the"
                f" spelling against {DOCS} (hooks: {', '.join(sorted(specs))})."
            )
            continue
        extra = [arg for arg in _arguments(impl) if arg not in specs[hook]]
        if extra:
            problems.append(
                f"Plugin {name!r}: hook {hook!r} takes {', '.join(map(repr, extra))}, which its"
                f" specification never passes. Accept only (a subset of): "
                f"{', '.join(specs[hook])} (see {DOCS}#{hook})."
            )
    return problems


def describe(name: str, impls: dict[str, object]) -> tuple[ProviderInfo | None, list[str]]:
    """Call the plugin's describe_provider the way the host does, reporting what is wrong."""
    fn = impls.get("describe_provider")
    if fn is None:
        return None, [
            f"Plugin {name!r} has no describe_provider hook. Add `@hookimpl def"
            " describe_provider() -> ProviderInfo` so the host knows which provider it serves."
        ]
    if inspect.iscoroutinefunction(fn):
        return None, [
            f"Plugin {name!r}: describe_provider is `async def`. Make it a plain `def`: the"
            " host reads it once while loading plugins, outside any event loop."
        ]
    params = _arguments(fn)
    if params:
        return None, [
            f"Plugin {name!r}: describe_provider takes {', '.join(params)}, but it receives"
            " nothing. Remove the arguments."
        ]
    info = fn()  # type: ignore[operator]
    if inspect.isawaitable(info):
        getattr(info, "close", lambda: None)()
        return None, [
            f"Plugin {name!r}: describe_provider returned an awaitable. Return the ProviderInfo"
            " itself from a plain `def`."
        ]
    if not isinstance(info, ProviderInfo):
        return None, [
            f"Plugin {name!r}: describe_provider returned {type(info).__name__}; return a"
            " meetbridge.providers.ProviderInfo."
        ]
    return info, []


def check_info(name: str, info: ProviderInfo) -> list[str]:
    problems = []
    if not NAME_PATTERN.match(info.name):
        problems.append(
            f"Plugin {name!r}: provider name {info.name!r} must be lower case letters, digits and"
            " underscores, starting with a letter (it is stored and used in settings keys)."
        )
    if not info.label.strip():
        problems.append(f"Plugin {name!r}: ProviderInfo.label is empty; give the name people read.")
    if not isinstance(info.auth_kind, AuthKind):
        problems.append(f"Plugin {name!r}: ProviderInfo.auth_kind must be an AuthKind.")
    unknown = [c for c in info.capabilities if not isinstance(c, Capability)]
    if unknown:
        problems.append(
            f"Plugin {name!r}: capabilities {unknown!r} are not Capability members; use"
            " meetbridge.providers.Capability."
        )
    connects = info.supports(Capability.CONNECT)
    if info.auth_kind == AuthKind.NONE and connects:
        problems.append(
            f"Plugin {name!r}: auth_kind is NONE but capabilities include CONNECT. A provider"
            " with a connect step uses AuthKind.OAUTH2."
        )
    if info.auth_kind == AuthKind.OAUTH2 and not connects:
        problems.append(
            f"Plugin {name!r}: auth_kind is OAUTH2 but capabilities lack CONNECT, so nobody can"
            " ever connect an account. Add Capability.CONNECT, or use AuthKind.NONE."
        )
    for capability in NEEDS_CONNECT:
        if info.supports(capability) and not connects:
            problems.append(
                f"Plugin {name!r}: Capability.{capability.name} needs a connect step; add"
                " Capability.CONNECT or remove it."
            )
    if connects:
        missing = [k for k in ("authorize_url", "token_url") if k not in info.endpoints]
        if missing:
            problems.append(
                f"Plugin {name!r}: ProviderInfo.endpoints lacks {', '.join(missing)}. Give the"
                " provider's real URLs there so operators can point them at a sandbox."
            )
    return problems


def check_capabilities(name: str, info: ProviderInfo, implemented: Iterable[str]) -> list[str]:
    hooks = set(implemented)
    problems = []
    for hook, capability in HOOK_CAPABILITIES.items():
        if hook in hooks and not info.supports(capability):
            problems.append(
                f"Plugin {name!r} implements {hook!r} but its ProviderInfo does not declare"
                f" Capability.{capability.name}. Add Capability.{capability.name} to"
                " capabilities, or remove the hook: the host decides what to call from the"
                " capabilities."
            )
    wanted = {c: (h,) for h, c in HOOK_CAPABILITIES.items()}
    wanted[Capability.CONNECT] = ("authorization_url", "connect")
    wanted.update(CAPABILITY_HOOKS)
    for capability, needed in wanted.items():
        missing = [hook for hook in needed if hook not in hooks]
        if info.supports(capability) and missing:
            problems.append(
                f"Plugin {name!r} declares Capability.{capability.name} but does not implement"
                f" {', '.join(map(repr, missing))}. Implement it (see {DOCS}) or drop the"
                " capability."
            )
    for hook in REQUIRED_HOOKS:
        if hook not in hooks:
            problems.append(
                f"Plugin {name!r} does not implement {hook!r}; every provider must (see"
                f" {DOCS}#{hook})."
            )
    return problems


def check_plugin(plugin: object, name: str | None = None) -> list[str]:
    """Every problem the suite can see without calling the provider; empty when all is well."""
    name = name or getattr(plugin, "__name__", type(plugin).__name__)
    impls = hook_implementations(plugin)
    problems = check_signatures(name, impls)
    info, described = describe(name, impls)
    problems += described
    if info is not None:
        problems += check_info(name, info)
        problems += check_capabilities(name, info, impls)
    return problems
