"""tokensmith as the session layer of an app with its own users (see docs/integration.md)."""
