from operational.core.errors import UnprocessableEntity


class TooManyRecords(UnprocessableEntity):
    slug, title = "too-many-records", "Too many records for one bulk update"
