"""Redis adapters: the revocation feed between instances (pub/sub), and the client they share."""

from tokensmith.storage.redis.feed import RedisRevocationFeed, redis_client

__all__ = ["RedisRevocationFeed", "redis_client"]
