"""What a fablab runs beside its machines: spools of material, maintenance, notifications, history.

`spools`, `maintenance`, `runs` react to jobs starting and ending in the
job domain's unit of work; `conditions` tells matching what a machine has loaded and whether it is
held; `notify` and `delivery` tell people, after the commit, from a worker of their own; `statistics`
reads the history back.
"""
