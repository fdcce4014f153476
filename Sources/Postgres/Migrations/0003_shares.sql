-- Share links: an unguessable code that expands to a fresh presigned URL on every visit, until it expires,
-- is revoked or runs out of uses. `uses` is counted only for shares with `max_uses`.
CREATE TABLE shares (
    code        TEXT PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{22,64}$'),
    request_id  TEXT NOT NULL REFERENCES generations (request_id) ON DELETE CASCADE,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ,
    max_uses    INTEGER CHECK (max_uses IS NULL OR max_uses > 0),
    uses        INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (max_uses IS NULL OR uses <= max_uses)
);

CREATE INDEX shares_request_id ON shares (request_id);
