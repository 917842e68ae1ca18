"""vidar's shared library: the only package that knows the NATS, MongoDB and S3 clients."""
