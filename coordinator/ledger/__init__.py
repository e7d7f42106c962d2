"""The commons ledger: who contributed what, where each part came from and what it cost (docs/commons.md)."""
