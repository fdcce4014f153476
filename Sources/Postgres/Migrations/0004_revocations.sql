-- Revocations: tokens by `jti`, viewers by `sub`, videos by `request_id` (a takedown), for ever or until a time.
-- Gateways mirror the active ones in memory; Redis only signals that the list changed.
CREATE TABLE revocations (
    kind       TEXT NOT NULL CHECK (kind IN ('jti', 'sub', 'request_id')),
    value      TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 256),
    until      TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, value)
);
