-- Generations: one row per fal request, from "Generate" (PENDING) to "mirrored" (COMPLETED) or FAILED.
CREATE TABLE generations (
    request_id   TEXT PRIMARY KEY CHECK (request_id ~ '^[A-Za-z0-9._-]{1,128}$' AND request_id NOT IN ('.', '..')),
    owner        TEXT,
    visibility   TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
    status       TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'MIRRORING', 'COMPLETED', 'FAILED')),
    fal_url      TEXT,
    cdn_url      TEXT,
    object_key   TEXT,
    content_type TEXT,
    size_bytes   BIGINT,
    mirrored_at  TIMESTAMPTZ,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (status <> 'COMPLETED' OR object_key IS NOT NULL)
);

CREATE INDEX generations_owner ON generations (owner);
