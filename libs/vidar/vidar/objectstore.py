"""S3-compatible object storage (MinIO, SeaweedFS) through the synchronous `minio` client.

The client blocks, so every call from async code runs in a worker thread; `ObjectReader` is
for code that already runs in a thread (decoders).
"""

import asyncio
import io
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from urllib3 import BaseHTTPResponse

from vidar.settings import VidarSettings

# Multipart part size for streams of unknown length. The client keeps about four parts in
# memory (one being read, three uploading), so this bounds an upload's memory.
PART_SIZE = 8 * 1024 * 1024
# Decoders read in small pieces; one HTTP read per megabyte keeps S3 reads off their path.
READ_BUFFER = 1024 * 1024
_MISSING = {"NoSuchKey", "NoSuchObject"}
# The most uploads S3 lists in one answer.
_UPLOADS_PER_LISTING = 1000


@dataclass(frozen=True)
class PendingUpload:
    """A multipart upload begun and neither completed nor aborted."""

    key: str
    upload_id: str
    initiated: datetime


class ObjectStore:
    def __init__(self, settings: VidarSettings) -> None:
        self.bucket = settings.s3_bucket
        # Without a secret key, requests go unsigned: only a server that allows anonymous access answers.
        secret_key = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key is not None else None
        self._client = Minio(
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key if secret_key is not None else None,
            secret_key=secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )

    async def ensure_bucket(self) -> None:
        if not await self.bucket_exists():
            await asyncio.to_thread(self._client.make_bucket, bucket_name=self.bucket)

    async def bucket_exists(self) -> bool:
        return await asyncio.to_thread(self._client.bucket_exists, bucket_name=self.bucket)

    def put_stream(self, key: str, stream: io.RawIOBase | BinaryIO, content_type: str) -> None:
        """Blocking: upload a stream of unknown length; a failed upload leaves no object."""
        self._client.put_object(
            bucket_name=self.bucket,
            object_name=key,
            data=stream,  # type: ignore[arg-type]  # minio only calls read(n), which a raw stream serves
            length=-1,
            part_size=PART_SIZE,
            content_type=content_type,
        )

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self.write, key, data, content_type)

    def write(self, key: str, data: bytes, content_type: str) -> None:
        """Blocking: store a small object (an image)."""
        self._client.put_object(
            bucket_name=self.bucket, object_name=key, data=io.BytesIO(data), length=len(data), content_type=content_type
        )

    async def get_bytes(self, key: str) -> bytes | None:
        """A small object's content, or None if there is no such object."""

        def read() -> bytes | None:
            try:
                response = self._client.get_object(bucket_name=self.bucket, object_name=key)
            except S3Error as error:
                if error.code in _MISSING:
                    return None
                raise
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(read)

    async def remove(self, key: str) -> None:
        """Idempotent: removing a missing object is not an error."""
        await asyncio.to_thread(self._client.remove_object, bucket_name=self.bucket, object_name=key)

    async def remove_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix`; returns how many there were."""

        def remove_all() -> int:
            keys = [
                DeleteObject(item.object_name)
                for item in self._client.list_objects(bucket_name=self.bucket, prefix=prefix, recursive=True)
                if item.object_name
            ]
            for error in self._client.remove_objects(bucket_name=self.bucket, delete_object_list=keys):
                raise RuntimeError(f"could not remove {error.name}: {error.message}")
            return len(keys)

        return await asyncio.to_thread(remove_all)

    async def pending_uploads(self) -> list[PendingUpload]:
        """The bucket's unfinished multipart uploads, up to 1000 (one listing).

        The whole bucket, not a prefix: MinIO lists nothing for a prefix that is not a whole key.
        One listing: SeaweedFS 4.48 ignores the listing markers (every page is the first) and
        minio-py 7.2 drops `NextUploadIdMarker`, so a caller that aborts what it finds sees the rest
        next time. minio-py 7.2 has no public call for this; its private one is what `put_object`
        itself relies on, and the tests run it against the real server.
        """

        def list_uploads() -> list[PendingUpload]:
            listing = self._client._list_multipart_uploads(bucket_name=self.bucket, max_uploads=_UPLOADS_PER_LISTING)
            return [
                PendingUpload(key=upload.object_name, upload_id=upload.upload_id, initiated=upload.initiated_time)
                for upload in listing.uploads
                if upload.upload_id and upload.initiated_time
            ]

        return await asyncio.to_thread(list_uploads)

    async def abort_upload(self, upload: PendingUpload) -> bool:
        """Drop an unfinished upload and its parts; False where the server says it was gone already
        (aborted, or completed: a completed object is never touched). Harmless to repeat."""

        def abort() -> bool:
            try:
                self._client._abort_multipart_upload(
                    bucket_name=self.bucket, object_name=upload.key, upload_id=upload.upload_id
                )
            except S3Error as error:
                if error.code == "NoSuchUpload":
                    return False
                raise
            return True

        return await asyncio.to_thread(abort)

    def reader(self, key: str, size: int) -> io.BufferedReader:
        """A seekable, blocking file over the object, for decoders running in a thread."""
        return io.BufferedReader(ObjectReader(self._client, self.bucket, key, size), buffer_size=READ_BUFFER)


class ObjectReader(io.RawIOBase):
    """A seekable, blocking file over one object: reads stream from the current offset and a
    seek reopens there, so a decoder reads the object without downloading it first."""

    def __init__(self, client: Minio, bucket: str, key: str, size: int) -> None:
        super().__init__()
        self._client, self._bucket, self._key, self._size = client, bucket, key, size
        self._position = 0
        self._response: BaseHTTPResponse | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        target = max(0, base + offset)
        if target != self._position:
            self._drop_response()
            self._position = target
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._position >= self._size or len(buffer) == 0:
            return 0
        if self._response is None:
            self._response = self._client.get_object(
                bucket_name=self._bucket, object_name=self._key, offset=self._position
            )
        data = self._response.read(len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        self._drop_response()
        super().close()

    def _drop_response(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response.release_conn()
            self._response = None
