-- Plays per generation per UTC day (CONTRACT § Plays). `plays` and `share_plays` are exact (the gateways add their
-- batches); `viewers` and `sketch` (Redis's HyperLogLog of the day's hashed viewers) are copied by the worker's
-- roll-up, so distinct viewers over a range can be merged after Redis has let the day go. Kept 400 days.
CREATE TABLE plays_daily (
    request_id   TEXT NOT NULL REFERENCES generations (request_id) ON DELETE CASCADE,
    day          DATE NOT NULL,
    plays        BIGINT NOT NULL DEFAULT 0 CHECK (plays >= 0),
    share_plays  BIGINT NOT NULL DEFAULT 0 CHECK (share_plays >= 0),
    viewers      BIGINT NOT NULL DEFAULT 0 CHECK (viewers >= 0),
    sketch       BYTEA,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    rolled_up_at TIMESTAMPTZ,
    PRIMARY KEY (request_id, day)
);

-- The roll-up's work list: rows counted since their sketch was last copied.
CREATE INDEX plays_daily_pending ON plays_daily (updated_at) WHERE rolled_up_at IS NULL OR rolled_up_at < updated_at;
CREATE INDEX plays_daily_day ON plays_daily (day);
