-- Deletion, retention and listing (CONTRACT § Deletion, retention, listing).
-- A deleted generation keeps its row (and fal_url, for support) for 30 days with status DELETED; its object_key
-- stays set until the object is gone from the bucket, so a deletion interrupted between the row and the bucket
-- is found again and finished.
ALTER TABLE generations DROP CONSTRAINT generations_status_check;
ALTER TABLE generations ADD CONSTRAINT generations_status_check
    CHECK (status IN ('PENDING', 'MIRRORING', 'COMPLETED', 'FAILED', 'DELETED'));
ALTER TABLE generations ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE generations ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE generations ADD CONSTRAINT generations_deleted_at_check CHECK ((status = 'DELETED') = (deleted_at IS NOT NULL));

-- Listing: one owner's library newest first, keyset-paginated on (created_at, request_id).
CREATE INDEX generations_owner_created ON generations (owner, created_at DESC, request_id DESC);
DROP INDEX generations_owner;

-- The retention sweep: what has expired and is not deleted yet.
CREATE INDEX generations_expiring ON generations (expires_at) WHERE expires_at IS NOT NULL AND status <> 'DELETED';
-- Deleted rows: unfinished bucket deletions, recent deletions (for every instance's caches) and the 30-day purge.
CREATE INDEX generations_deleted ON generations (deleted_at) WHERE status = 'DELETED';
