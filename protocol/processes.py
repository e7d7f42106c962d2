"""Every process a peerfab machine can run: the one list that design manifests, agents and the API check.

A design's fabricated part names one of `FABRICATION_PROCESSES`; a machine announces one of
`MACHINE_PROCESSES` (the same, and the assembly bench where people put parts together). A job whose
process is not here could never be offered to any machine, so it is refused when it is submitted.
"""

from __future__ import annotations

from protocol.errors import InvalidInput

FABRICATION_PROCESSES = (
    "fdm_print", "sla_print", "sls_print", "cnc_mill", "cnc_router", "cnc_lathe", "laser_cut",
    "plasma_cut", "waterjet_cut", "pcb_mill", "pcb_fab", "pcb_assembly", "weld", "sheet_bend",
)  # fmt: skip
ASSEMBLY = "assembly"
MACHINE_PROCESSES = (*FABRICATION_PROCESSES, ASSEMBLY)


def check_process(process: str, where: str = "process") -> str:
    """`process` when some kind of machine runs it; InvalidInput naming the known processes otherwise."""
    if process not in MACHINE_PROCESSES:
        raise InvalidInput(
            f"{where}: no machine runs {process[:40]!r}; known processes: {', '.join(MACHINE_PROCESSES)}"
        )
    return process
