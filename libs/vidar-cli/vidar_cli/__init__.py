"""`vidar`: the command-line client of the vidar HTTP API."""
