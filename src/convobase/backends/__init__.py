"""Small async protocols with swappable implementations (in-process or Redis, SQL, S3...).

Each protocol has one contract test suite in tests/backends/ run against every implementation.
"""
