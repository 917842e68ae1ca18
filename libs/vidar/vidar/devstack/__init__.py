"""The embedded servers behind `make run` and the tests: NATS, a MongoDB-wire server and
SeaweedFS S3, all from PyPI packages, on loopback. Deployments use the real servers instead.
"""
