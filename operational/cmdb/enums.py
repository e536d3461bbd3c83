from enum import IntEnum, StrEnum


class CIStatus(StrEnum):
    planned = "planned"
    in_build = "in_build"
    in_service = "in_service"
    maintenance = "maintenance"
    retired = "retired"


class Environment(StrEnum):
    production = "production"
    disaster_recovery = "disaster_recovery"
    staging = "staging"
    test = "test"
    development = "development"


class Criticality(IntEnum):
    """Business criticality; 1 is the most critical, as with impact and priority."""

    critical = 1
    high = 2
    medium = 3
    low = 4


class RelationshipType(StrEnum):
    """Read a relationship as ``<source> <type> <target>``: "crm-app depends_on crm-db"."""

    depends_on = "depends_on"
    runs_on = "runs_on"
    hosted_on = "hosted_on"
    connects_to = "connects_to"
    part_of = "part_of"


# Network links may loop; a dependency, a host or a containment chain that loops is an error.
ACYCLIC_TYPES = frozenset(
    {
        RelationshipType.depends_on,
        RelationshipType.runs_on,
        RelationshipType.hosted_on,
        RelationshipType.part_of,
    }
)

# Impact flows from the CI that provides to the CI that relies on it. For every type the target
# provides to the source ("app runs_on server": the server's failure hits the app), except
# part_of, where the whole relies on its parts ("node part_of cluster": the node hits the cluster).
IMPACT_FLOWS_FROM_SOURCE = frozenset({RelationshipType.part_of})


class ImpactDirection(StrEnum):
    # What relies on the CI, transitively: what breaks when it breaks.
    downstream = "downstream"
    # What the CI relies on, transitively: where a fault of the CI may come from.
    upstream = "upstream"


MAX_IMPACT_DEPTH = 20
