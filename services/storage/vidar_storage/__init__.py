"""vidar storage: source files and what is derived from them."""
