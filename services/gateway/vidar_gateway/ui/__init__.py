"""The operators' web UI: static ES modules over the public HTTP API, served under `/`."""
