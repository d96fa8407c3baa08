"""The web UI and JSON API (`swarmscale web`)."""
