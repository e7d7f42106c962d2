"""Bills of materials: the design.toml manifest, its checks, and graph operations."""
