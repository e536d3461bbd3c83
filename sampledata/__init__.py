"""Seeded sample data: the demo year (`demo`) and the benchmarks' ServiceNow audit exports
(`generate`). Each generator writes files in the formats ingest reads, so the demo, the
benchmarks and the tests load them through the same parsing and loading as a customer's export.
Not part of the ingest library: it depends on ingest and on the platform's rules (the CAB
tally), never the other way round.
"""
