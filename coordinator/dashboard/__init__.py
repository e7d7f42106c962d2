"""The dashboards: server-rendered pages of designs, machines, jobs and builds, updated live."""
