"""Referee's serving side: settings, the embedded process-pool executor, and the CLI."""
