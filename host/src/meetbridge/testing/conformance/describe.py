"""Contract: the plugin loads, describes itself sensibly, and its capabilities match its hooks."""

from __future__ import annotations

from meetbridge.providers import AuthKind, Capability
from meetbridge.testing.conformance.checks import check_plugin
from meetbridge.testing.conformance.kit import Kit, contract


def owning_plugin(kit: Kit) -> tuple[str, object]:
    """(plugin name, plugin object) of the plugin that described the provider."""
    [name] = [r.name for r in kit.host.records() if kit.provider in r.providers]
    return name, kit.host.pm.get_plugin(name)


class DescribeContract:
    @contract()
    async def test_the_plugin_loads_without_failures(self, kit: Kit) -> None:
        """The plugin host registered the plugin and recorded no failure for it."""
        name, plugin = owning_plugin(kit)
        assert plugin is not None
        failures = [f.error for f in kit.host.failures if f.name == name]
        assert not failures, f"the plugin host reported: {failures}"

    @contract()
    async def test_describe_provider_is_consistent_with_the_implemented_hooks(
        self, kit: Kit
    ) -> None:
        """Name, label, auth kind and capabilities agree with each other and with the hooks."""
        name, plugin = owning_plugin(kit)
        problems = check_plugin(plugin, name)
        assert not problems, "\n".join(problems)

    @contract()
    async def test_the_harness_speaks_for_the_same_provider(self, kit: Kit) -> None:
        """The harness's provider name, and a context the plugin can read its settings from."""
        assert kit.harness.provider == kit.info.name
        context = kit.harness.context()
        assert context.settings.name == kit.info.name
        assert context.http is kit.http, "build contexts with the harness's `http` client"
        if kit.info.auth_kind == AuthKind.OAUTH2:
            assert kit.harness.redirect_uri, "set ProviderHarness.redirect_uri for the connect flow"

    @contract(Capability.WEBHOOKS)
    async def test_a_forged_webhook_is_refused_with_no_events(self, kit: Kit) -> None:
        """An unsigned delivery gets a 4xx answer and nothing for the host to act on."""
        body = b'{"event":"app_deauthorized","payload":{"user_id":"someone"}}'
        result = await kit.call(
            "handle_webhook", headers={"content-type": "application/json"}, body=body
        )
        assert 400 <= result.status_code < 500, result
        assert result.events == ()
