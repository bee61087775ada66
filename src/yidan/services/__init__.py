"""Services that compose several parts of the system (used by the CLI and the web app)."""
