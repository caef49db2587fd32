"""IoT Hub routes messages only to resources inside the boundary.

Each custom routing endpoint (Event Hubs, Service Bus queues and topics, storage containers, Cosmos DB
containers) and each file-upload storage endpoint is resolved to a resource of this stack by the
name in its endpoint URI or connection string; that resource's location must be in the boundary.
An endpoint that resolves to nothing in the stack cannot be verified and is refused. Messages
quote endpoint names and hosts only, never connection strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.facts.azure import (
    COSMOS_ACCOUNT,
    EVENTHUB_NAMESPACE,
    IOT_HUB,
    SERVICEBUS_NAMESPACE,
    STORAGE_ACCOUNT,
    Locations,
    StackIndex,
    connection_string_field,
    host_label,
)
from policies.facts.props import get, mappings, show
from policies.model import ResourceView, RuleContext, StackRule, each

#: endpoint list under properties.routing.endpoints -> resource types it can point at.
_ENDPOINT_KINDS: Mapping[str, tuple[str, ...]] = {
    "eventHubs": (EVENTHUB_NAMESPACE,),
    "serviceBusQueues": (SERVICEBUS_NAMESPACE,),
    "serviceBusTopics": (SERVICEBUS_NAMESPACE,),
    "storageContainers": (STORAGE_ACCOUNT,),
    "cosmosDBSqlContainers": (COSMOS_ACCOUNT,),
}


def target_name(endpoint: Mapping[str, Any]) -> str | None:
    """The account or namespace an endpoint writes to, from its URI or its connection string."""
    uri = get(endpoint, "endpointUri")
    if isinstance(uri, str) and uri:
        return host_label(uri)
    connection = get(endpoint, "connectionString")
    if isinstance(connection, str) and connection:
        account = connection_string_field(connection, "AccountName")
        if account:
            return account.lower()
        for key in ("Endpoint", "AccountEndpoint"):
            host = connection_string_field(connection, key)
            if host:
                return host_label(host)
    return None


def _endpoints(hub: ResourceView) -> Iterator[tuple[str, tuple[str, ...], Mapping[str, Any]]]:
    routing = get(hub.props, "properties.routing.endpoints")
    if isinstance(routing, Mapping):
        for kind, types in _ENDPOINT_KINDS.items():
            for endpoint in mappings(routing.get(kind)):
                yield f"routing endpoint '{endpoint.get('name', '?')}' ({kind})", types, endpoint
    uploads = get(hub.props, "properties.storageEndpoints")
    if isinstance(uploads, Mapping):
        for name, endpoint in uploads.items():
            if isinstance(endpoint, Mapping):
                yield f"file-upload storage endpoint '{name}'", (STORAGE_ACCOUNT,), endpoint


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    index = StackIndex(resources)
    locations = Locations(resources)

    def judge(hub: ResourceView) -> Iterator[str]:
        for label, types, endpoint in _endpoints(hub):
            name = target_name(endpoint)
            target = index.find(types, name) if name else None
            if target is None:
                yield (
                    f"{label} points at {show(name)}, which is not a resource of this stack, so its location "
                    f"cannot be verified (allowed: resources of this stack in {ctx.allowed()})"
                )
                continue
            problem = locations.judge(target, f"{label} points at '{name}'", ctx)
            if problem is not None:
                yield problem

    yield from each((r for r in resources if r.type == IOT_HUB), judge)


RULE = StackRule(
    name="residency-iothub-routing-endpoints",
    description="IoT Hub routing and file-upload endpoints point only at resources inside the region's boundary.",
    remediation="Route to the Event Hubs namespace, storage or Cosmos DB account the same RegionalPlatform "
    "creates in the region.",
    validate=validate,
)
