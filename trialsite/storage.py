"""Static file storage: whitenoise's compressed, content-hashed files, hashed also under DEBUG."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Django names static files without their hash while DEBUG is on; the demo (`make run`,
    DEBUG=1) collects them and should be served like production: hashed names, which
    whitenoise caches for a year as immutable. Outside DEBUG this is whitenoise's storage."""

    def url(self, name, force=False):
        return super().url(name, force=True)
