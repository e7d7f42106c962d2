"""The job domain: one lifecycle, one store, one bus (docs/jobs.md).

Nothing is imported here, so that importing the lifecycle pulls in no database code.
"""
