"""The rule model shared by the policy packs and `autocloud check`.

Rules are plain objects with no dependency on pulumi_policy, so the offline check, the benchmark and
the tests call exactly the validators the packs serve. A rule sees resources as `ResourceView`s
(camelCase props, as the engine passes them) and the region as a `RuleContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from platform_model.vocabulary import REGION_LABEL, Cloud, normalise_location

Enforcement = Literal["mandatory", "advisory"]
Pack = Literal["residency", "baseline", "kubernetes", "deployability"]
DeviceAccess = Literal["public", "private"]

PACKS: tuple[Pack, ...] = get_args(Pack)

#: Type tokens an older SDK (azure-native v2) used for the same resources; rules match the v3 token.
_TYPE_ALIASES: Mapping[str, str] = {
    "azure-native:devices:IotHubResource": "azure-native:iothub:IotHubResource",
    "azure-native:devices:IotDpsResource": "azure-native:deviceprovisioningservices:IotDpsResource",
    "azure-native:documentdb:DatabaseAccount": "azure-native:cosmosdb:DatabaseAccount",
}

_canonical_cache: dict[str, str] = {}


UNKNOWN_PREFIX = "<unknown"
"""How `autocloud check` spells a value nobody knows before deployment: a computed output (the
engine's unknown at preview) or a field of an invoke's result (`<unknown getResourceGroup.location>`)."""


def is_unknown(value: object) -> bool:
    """Whether a property value is one the check could not know (see `UNKNOWN_PREFIX`)."""
    return isinstance(value, str) and value.startswith(UNKNOWN_PREFIX)


class UnknownValue(Exception):
    """A rule read a value only deployment will know. `policies.facts.props.get` raises it, as
    pulumi-policy's proxy raises its ``UnknownValueError`` in a pack, so no rule reads an unknown as
    "not set"; the evaluator turns it into an `Unverified` finding for that resource."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is only known at deployment")
        self.path = path


class Unverified(str):
    """A finding that says what could not be verified rather than what is wrong: reported as
    advisory whatever the rule's enforcement (a preview could not know either)."""


def unverified(error: UnknownValue, allowed: str = "") -> Unverified:
    """The finding for a rule that met an unknown value."""
    tail = f" (allowed: {allowed})" if allowed else ""
    return Unverified(f"cannot verify: {error}{tail}")


def each(
    resources: Iterable[ResourceView], judge: Callable[[ResourceView], Iterable[str]]
) -> Iterator[tuple[str, str]]:
    """A stack rule's findings resource by resource: an unknown value met while judging one
    resource makes that resource "cannot verify" and the rule goes on with the next."""
    for view in resources:
        try:
            for detail in judge(view):
                yield view.urn, detail
        except UnknownValue as error:
            yield view.urn, unverified(error)


def canonical_type(token: str) -> str:
    """The token rules match on: API-versioned modules (``iothub/v20230630``) and v2 names folded
    into the default v3 token, so pinning an API version cannot slip a resource past a rule."""
    found = _canonical_cache.get(token)
    if found is not None:
        return found
    result = token
    if token.startswith("azure-native:"):
        parts = token.split(":")
        if len(parts) == 3 and "/" in parts[1]:
            parts[1] = parts[1].split("/", 1)[0]
            result = ":".join(parts)
        result = _TYPE_ALIASES.get(result, result)
    _canonical_cache[token] = result
    return result


@dataclass(frozen=True, slots=True)
class ProviderView:
    """The provider resource a resource is managed by (type ``pulumi:providers:<package>``)."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ResourceView:
    """One resource as a rule sees it: type token, logical name, URN and camelCase props."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    provider: ProviderView | None = None
    located: bool | None = None
    """Whether the type takes a `location` input, when the SDK that registered it told the check;
    None where nobody knows (the policy packs), and rules fall back to the props and known types."""

    @classmethod
    def of(
        cls,
        type_: str,
        props: Mapping[str, Any],
        name: str = "example",
        provider: ProviderView | None = None,
        stack: str = "check",
        project: str = "autocloud",
    ) -> ResourceView:
        """A view with a synthetic URN, for tests, benchmarks and hand-built inputs."""
        urn = f"urn:pulumi:{stack}::{project}::{type_}::{name}"
        return cls(canonical_type(type_), name, urn, props, provider)


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What a rule needs to know about the region the stack deploys."""

    region: str
    """Region profile name, e.g. ``eu``."""
    cloud: Cloud
    boundary: frozenset[str]
    """Allowed Azure locations, normalised (``westeurope``)."""
    maps_allowed: bool = False
    iot_data_residency: bool = True
    required_tags: Mapping[str, str] = field(default_factory=dict)
    """Tags every taggable Azure resource carries, with the exact value required."""
    required_tag_keys: frozenset[str] = frozenset()
    """Tags that must be present with any value."""
    relaxed: frozenset[str] = frozenset()
    """Baseline rules this stack downgrades to advisory."""
    known_regions: frozenset[str] = frozenset()
    """Every region profile's name: how a namespace named ``autocloud-us`` is known to be foreign."""
    region_label: str = REGION_LABEL
    device_access: DeviceAccess = "public"
    """How vehicles reach IoT Hub and DPS (the profile's ``devices.access``): ``public`` over the
    internet, or ``private`` through a private APN / ExpressRoute into the VNet."""
    jurisdiction: str = ""
    """The jurisdiction the region serves (``platform_model/catalog/jurisdictions/<name>.yaml``): the residency
    rules judge Maps accounts and IoT failover by its facts as well as by the profile's switches. Empty: by the
    switches only (a hand-written pack config)."""

    def in_boundary(self, location: str) -> bool:
        """Whether ``location`` (any spelling) is one of the region's allowed locations."""
        return normalise_location(location) in self.boundary

    def allowed(self) -> str:
        """The boundary as messages print it."""
        return ", ".join(sorted(self.boundary))

    @property
    def foreign_regions(self) -> frozenset[str]:
        """The other regions, whose namespaces and locations this stack must not reach."""
        return self.known_regions - {self.region}

    def to_config(self) -> dict[str, Any]:
        """The policy-config properties (camelCase JSON) a pack reads back with `from_config`."""
        return {
            "region": self.region,
            "cloud": self.cloud,
            "boundary": sorted(self.boundary),
            "mapsAllowed": self.maps_allowed,
            "iotDataResidency": self.iot_data_residency,
            "requiredTags": dict(self.required_tags),
            "requiredTagKeys": sorted(self.required_tag_keys),
            "relaxed": sorted(self.relaxed),
            "knownRegions": sorted(self.known_regions),
            "regionLabel": self.region_label,
            "deviceAccess": self.device_access,
            "jurisdiction": self.jurisdiction,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RuleContext:
        """Parse policy config; `ValueError` names the key, because a pack without its region
        must fail loudly rather than pass everything."""

        def strings(key: str) -> frozenset[str]:
            value = config.get(key, [])
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise ValueError(f"policy config '{key}' must be a list of strings")
            return frozenset(str(v) for v in value)

        region = config.get("region")
        if not isinstance(region, str) or not region:
            raise ValueError("policy config 'region' is missing")
        cloud = config.get("cloud")
        if cloud not in get_args(Cloud):
            raise ValueError(f"policy config 'cloud' must be one of {', '.join(get_args(Cloud))}")
        boundary = frozenset(normalise_location(loc) for loc in strings("boundary"))
        if not boundary:
            raise ValueError("policy config 'boundary' is missing or empty")
        device_access = config.get("deviceAccess", "public")
        if device_access not in get_args(DeviceAccess):
            raise ValueError(f"policy config 'deviceAccess' must be one of {', '.join(get_args(DeviceAccess))}")
        tags = config.get("requiredTags", {})
        if not isinstance(tags, Mapping):
            raise ValueError("policy config 'requiredTags' must be an object of tag: value")
        return cls(
            region=region,
            cloud=cast(Cloud, cloud),
            boundary=boundary,
            maps_allowed=bool(config.get("mapsAllowed", False)),
            iot_data_residency=bool(config.get("iotDataResidency", True)),
            required_tags={str(k): str(v) for k, v in tags.items()},
            required_tag_keys=strings("requiredTagKeys"),
            relaxed=strings("relaxed"),
            known_regions=strings("knownRegions") | {region},
            region_label=str(config.get("regionLabel", REGION_LABEL)),
            device_access=cast(DeviceAccess, device_access),
            jurisdiction=str(config.get("jurisdiction") or ""),
        )


ResourceValidator = Callable[[ResourceView, RuleContext], Iterable[str]]
#: A stack validator yields (urn of the offending resource, message).
StackValidator = Callable[[Sequence[ResourceView], RuleContext], Iterable[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class ResourceRule:
    """A rule judged one resource at a time (a pulumi-policy ResourceValidationPolicy)."""

    name: str
    description: str
    remediation: str
    resource_types: frozenset[str]
    """Canonical type tokens the rule looks at; empty means every type."""
    validate: ResourceValidator
    enforcement: Enforcement = "mandatory"
    relaxable: bool = False
    """Whether a stack's policy config may downgrade it to advisory (baseline rules only)."""


@dataclass(frozen=True, slots=True)
class StackRule:
    """A rule that needs the whole stack, e.g. to resolve a reference to another resource."""

    name: str
    description: str
    remediation: str
    validate: StackValidator
    enforcement: Enforcement = "mandatory"
    relaxable: bool = False


Rule = ResourceRule | StackRule


@dataclass(frozen=True, slots=True)
class Violation:
    """One finding: which resource, which rule, how strictly, and what is wrong. `message` is the
    one-line form; `resource` and `detail` are its parts, so no reader has to split it."""

    policy: str
    enforcement: Enforcement
    urn: str
    type: str
    message: str
    pack: str = ""
    stack: str = ""
    resource: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "stack": self.stack,
            "pack": self.pack,
            "policy": self.policy,
            "enforcement": self.enforcement,
            "urn": self.urn,
            "type": self.type,
            "resource": self.resource,
            "message": self.message,
            "detail": self.detail,
        }


class ViolationCounts:
    """`mandatory` / `advisory` tallies for anything holding a `violations` list (check, report)."""

    violations: list[Violation]

    @property
    def mandatory(self) -> int:
        return sum(v.enforcement == "mandatory" for v in self.violations)

    @property
    def advisory(self) -> int:
        return sum(v.enforcement == "advisory" for v in self.violations)


def format_message(rule_name: str, resource_name: str, resource_type: str, detail: str) -> str:
    """One message shape for the packs and `check`: rule, resource, then what is wrong."""
    return f"[{rule_name}] {resource_name} ({resource_type}): {detail}"


def urn_type_and_name(urn: str) -> tuple[str, str]:
    """The resource type and name a URN ends with (``...::parent$type::name``)."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "", urn
    return parts[-2].rsplit("$", 1)[-1], parts[-1]


def effective_enforcement(rule: Rule, ctx: RuleContext, detail: str = "") -> Enforcement:
    """A relaxed baseline rule still reports, as advisory; nothing else can be relaxed. What could
    not be verified (`Unverified`) is advisory too."""
    if isinstance(detail, Unverified) or (rule.relaxable and rule.name in ctx.relaxed):
        return "advisory"
    return rule.enforcement
