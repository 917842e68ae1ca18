"""S3-compatible object storage (MinIO, SeaweedFS) through the synchronous `minio` client.

The client blocks, so every call runs in a worker thread.
"""

import asyncio

from minio import Minio

from vidar.settings import VidarSettings


class ObjectStore:
    def __init__(self, settings: VidarSettings) -> None:
        self.bucket = settings.s3_bucket
        self._client = Minio(
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
        )

    async def ensure_bucket(self) -> None:
        if not await self.bucket_exists():
            await asyncio.to_thread(self._client.make_bucket, bucket_name=self.bucket)

    async def bucket_exists(self) -> bool:
        return await asyncio.to_thread(self._client.bucket_exists, bucket_name=self.bucket)
