from operational.core.errors import Conflict, NotFound, UnprocessableEntity


class CINotFound(NotFound):
    slug, title = "ci-not-found", "Configuration item not found"


class CIClassNotFound(NotFound):
    slug, title = "ci-class-not-found", "CI class not found"


class RelationshipNotFound(NotFound):
    slug, title = "ci-relationship-not-found", "CI relationship not found"


class InvalidAttributes(UnprocessableEntity):
    """The attributes break the class's schema; ``errors`` lists each problem with its path."""

    slug, title = "invalid-ci-attributes", "Attributes do not match the CI class"


class InvalidAttributeSchema(UnprocessableEntity):
    slug, title = "invalid-attribute-schema", "Not a valid attribute schema"


class SchemaBreaksExistingCIs(Conflict):
    slug, title = "schema-breaks-cis", "Existing CIs do not match the new schema"


class DuplicateCI(Conflict):
    slug, title = "duplicate-ci", "CI already exists"


class DuplicateCIClass(Conflict):
    slug, title = "duplicate-ci-class", "CI class already exists"


class DuplicateRelationship(Conflict):
    slug, title = "duplicate-relationship", "Relationship already exists"


class RelationshipCycle(Conflict):
    """The new relationship would close a loop in a type that forbids loops.
    ``cycle`` lists the CI ids of the loop, starting and ending at the new source."""

    slug, title = "relationship-cycle", "Relationship would form a cycle"
