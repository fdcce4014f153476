-- The mirror queue: at most one job per generation, claimed with FOR UPDATE SKIP LOCKED and a lease.
CREATE TABLE mirror_jobs (
    request_id   TEXT PRIMARY KEY REFERENCES generations (request_id) ON DELETE CASCADE,
    source_url   TEXT NOT NULL,
    content_type TEXT,
    file_size    BIGINT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_after    TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_until TIMESTAMPTZ,
    locked_by    TEXT,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX mirror_jobs_due ON mirror_jobs (run_after);
