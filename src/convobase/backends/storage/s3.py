"""`s3` blob storage: any S3-compatible service (AWS, MinIO, R2, SeaweedFS...) via obstore.

Uploads stream from the local file (multipart beyond `PART_SIZE`, at most `PART_CONCURRENCY`
parts in flight); objects carry ``Content-Type`` and ``Content-Disposition: attachment`` so a
presigned URL downloads with the right type and never renders inline. obstore's exceptions are
translated here: missing object -> `BlobNotFound`; missing bucket, refused credentials,
connection failures, timeouts and server errors (after obstore's retries) ->
`StorageUnavailable`; anything else -> `StorageError`.

Virtual-hosted style (``s3_path_style=false``) with a custom endpoint expects the endpoint to
name the bucket already (``https://bucket.host``), as obstore does.

Presigned URLs are signed for ``s3_public_endpoint`` when it is set (clients reach S3 at another
address than the app, say through a proxy or a public name): SigV4 signs the host, so the URL
must name the host the client will send. Signing is local: that store never makes a request.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Self

import anyio
import obstore
from anyio import to_thread
from obstore.exceptions import (
    BaseError,
    GenericError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from obstore.store import S3Store

from convobase.backends.storage import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobReader,
    EmptyReader,
    StorageError,
    StorageUnavailable,
    check_key,
    check_range,
)
from convobase.errors import ConfigError

if TYPE_CHECKING:
    from obstore import BytesStream, GetOptions
    from obstore.store import ClientConfig, RetryConfig, S3Config

    from convobase.config import Settings

PART_SIZE = 5 * 1024 * 1024  # multipart part size (S3's minimum); smaller files go in one PUT
PART_CONCURRENCY = 4  # parts uploaded at once: bounds the memory of one upload
STREAM_MIN_CHUNK = 64 * 1024  # obstore gathers at least this much per chunk
PROBE_KEY = "convobase-ping-probe"  # read (never written) by ping
MAX_URL_LIFETIME = timedelta(days=7)  # SigV4's limit
_BACKEND_ERRORS = (BaseError, OSError)  # obstore raises FileNotFoundError for a missing object


def _describe(exc: BaseException) -> str:
    return str(exc).split("\n\nDebug source:", 1)[0].strip()


def _translate(exc: BaseException, key: str | None) -> StorageError:
    """The StorageError for an obstore failure (``key``: the blob the call was about)."""
    message = _describe(exc)
    if isinstance(exc, FileNotFoundError):
        if "NoSuchBucket" in message:
            # S3's answer names the bucket: enough to act on, where the whole answer is not.
            bucket = re.search(r"<BucketName>([^<]+)</BucketName>", message)
            return StorageUnavailable(
                f"S3 bucket does not exist: {bucket.group(1) if bucket else message}"
            )
        return BlobNotFound(key) if key is not None else StorageError(message)
    if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
        return StorageUnavailable(f"S3 refused the request: {message}")
    if isinstance(exc, GenericError):  # connection, timeout, 5xx (after retries)
        return StorageUnavailable(f"S3 is not reachable: {message}")
    return StorageError(f"S3 request failed: {message}")


class S3Reader:
    """Chunks of an S3 GET response, re-cut to at most CHUNK_SIZE bytes."""

    def __init__(self, stream: BytesStream, key: str) -> None:
        self._stream: BytesStream | None = stream
        self._key = key
        self._pending = b""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if not self._pending:
            if self._stream is None:
                raise StopAsyncIteration
            try:
                self._pending = await self._stream.__anext__()
            except StopAsyncIteration:
                self._stream = None
                raise
            except _BACKEND_ERRORS as exc:
                self._stream = None
                raise _translate(exc, self._key) from exc
        chunk, self._pending = self._pending[:CHUNK_SIZE], self._pending[CHUNK_SIZE:]
        return chunk

    async def aclose(self) -> None:
        self._stream = None  # dropping obstore's stream closes the response
        self._pending = b""


class S3BlobStorage:
    def __init__(
        self, store: S3Store, *, signing_store: S3Store | None = None, ping_timeout: float = 10.0
    ) -> None:
        self.store = store
        self.signing_store = signing_store or store  # the public endpoint's, for signed URLs
        self.ping_timeout = ping_timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if not settings.s3_bucket:
            raise ConfigError("CONVOBASE_S3_BUCKET is required when CONVOBASE_STORAGE_BACKEND=s3.")
        key_id = settings.s3_access_key_id
        secret = settings.s3_secret_access_key
        if (key_id is None) != (secret is None):
            raise ConfigError(
                "Set both CONVOBASE_S3_ACCESS_KEY_ID and CONVOBASE_S3_SECRET_ACCESS_KEY, or "
                "neither (then the AWS environment or instance credentials are used)."
            )
        config: S3Config = {
            "region": settings.s3_region,
            "virtual_hosted_style_request": not settings.s3_path_style,
        }
        if settings.s3_endpoint:
            config["endpoint"] = settings.s3_endpoint
        if key_id is not None and secret is not None:
            config["access_key_id"] = key_id
            config["secret_access_key"] = secret.get_secret_value()
        client: ClientConfig = {
            "connect_timeout": timedelta(seconds=5),
            "read_timeout": timedelta(seconds=60),  # a stalled connection, not a slow download
            "timeout": timedelta(hours=1),  # whole request, including a streamed body
        }
        if settings.s3_endpoint and settings.s3_endpoint.lower().startswith("http://"):
            client["allow_http"] = True
        retry: RetryConfig = {"max_retries": 3, "retry_timeout": timedelta(seconds=30)}
        prefix = settings.s3_prefix.strip("/") or None
        store = S3Store(
            settings.s3_bucket,
            prefix=prefix,
            config=config,
            client_options=client,
            retry_config=retry,
        )
        signing_store = None
        if settings.s3_public_endpoint:
            public = settings.s3_public_endpoint
            signing_store = S3Store(
                settings.s3_bucket,
                prefix=prefix,
                config={**config, "endpoint": public},
                client_options={"allow_http": public.lower().startswith("http://")},
            )
        return cls(store, signing_store=signing_store)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        check_key(key)
        await to_thread.run_sync(os.stat, path)  # a missing source is the caller's error
        try:
            await obstore.put_async(
                self.store,
                key,
                path,
                attributes={"Content-Type": content_type, "Content-Disposition": "attachment"},
                chunk_size=PART_SIZE,
                max_concurrency=PART_CONCURRENCY,
            )
        except _BACKEND_ERRORS as exc:
            raise _translate(exc, None) from exc

    async def open(self, key: str, start: int = 0, end: int | None = None) -> BlobReader:
        check_key(key)
        check_range(start, end)
        if end == start:
            if await self.size(key) is None:
                raise BlobNotFound(key)
            return EmptyReader()
        options: GetOptions = {}
        if end is not None:
            options["range"] = (start, end)
        elif start:
            options["range"] = {"offset": start}
        try:
            result = await obstore.get_async(self.store, key, options=options or None)
        except GenericError as exc:
            # S3 answers 416 to a range starting at or past the end: an empty read, not a failure.
            if "range" in options:
                size = await self.size(key)
                if size is None:
                    raise BlobNotFound(key) from None
                if start >= size:
                    return EmptyReader()
            raise _translate(exc, key) from exc
        except _BACKEND_ERRORS as exc:
            raise _translate(exc, key) from exc
        return S3Reader(result.stream(min_chunk_size=STREAM_MIN_CHUNK), key)

    async def size(self, key: str) -> int | None:
        check_key(key)
        try:
            meta = await obstore.head_async(self.store, key)
        except FileNotFoundError:
            return None
        except _BACKEND_ERRORS as exc:
            raise _translate(exc, key) from exc
        return meta["size"]

    async def delete(self, key: str) -> None:
        check_key(key)
        try:
            await obstore.delete_async(self.store, key)
        except FileNotFoundError:
            return
        except _BACKEND_ERRORS as exc:
            raise _translate(exc, key) from exc

    async def signed_url(self, key: str, expires_in: timedelta) -> str | None:
        check_key(key)
        if not timedelta(seconds=1) <= expires_in <= MAX_URL_LIFETIME:
            raise ValueError(f"expires_in must be between 1 second and {MAX_URL_LIFETIME}")
        try:
            return await obstore.sign_async(self.signing_store, "GET", key, expires_in)
        except _BACKEND_ERRORS as exc:
            raise _translate(exc, key) from exc

    async def ping(self) -> None:
        """GET a probe key: "no such key" proves the bucket is there and the credentials work."""
        try:
            with anyio.fail_after(self.ping_timeout):
                await obstore.get_async(self.store, PROBE_KEY)  # present: fine too
        except TimeoutError:
            raise StorageUnavailable(f"S3 did not answer within {self.ping_timeout}s") from None
        except FileNotFoundError as exc:
            if "NoSuchBucket" in str(exc):
                raise _translate(exc, PROBE_KEY) from exc
        except PermissionDeniedError as exc:
            # Authenticated, but not allowed to read the probe: S3 answers 403 rather than 404
            # for a missing key when the credentials lack s3:ListBucket. Still reachable.
            if "<Code>AccessDenied</Code>" not in str(exc):
                raise _translate(exc, PROBE_KEY) from exc
        except _BACKEND_ERRORS as exc:
            raise _translate(exc, PROBE_KEY) from exc

    async def aclose(self) -> None:
        return None  # obstore's client has nothing to close; connections drop with the store
