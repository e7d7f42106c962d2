"""Talk to fabrication machines: sans-io protocol engines, transports, drivers and a simulator."""
