-- The gateways' flush updates every counted generation-day every 2 s (one upsert of up to ~10,000 rows under load).
-- 0006's roll-up index was on `updated_at`, which each update changes, so no update could be HOT: each wrote a new
-- tuple plus an entry in all three indexes (10.8 million updates, 0 HOT, in the load benchmark's database).
-- The work list is now a flag that stays true until the roll-up clears it: an update that leaves it true changes no
-- indexed column and, with room on its page, is HOT (no index writes). Measured on PostgreSQL 15 (psql, the same
-- 10,000-row upsert ten times, side by side): 100–155 ms before, 45–65 ms after; on pages written since, every
-- update was HOT at fillfactor 50 (93 % at 70, 90 % at 80). Pages filled before this migration stay full, so their
-- rows' first updates are not HOT.
-- The cost: new pages are filled half, so the heap of the days no longer counted takes about twice the space.
ALTER TABLE plays_daily ADD COLUMN rollup_pending BOOLEAN NOT NULL DEFAULT false;
UPDATE plays_daily SET rollup_pending = true WHERE rolled_up_at IS NULL OR rolled_up_at < updated_at;
ALTER TABLE plays_daily ALTER COLUMN rollup_pending SET DEFAULT true;
DROP INDEX plays_daily_pending;
-- Oldest days first: Redis lets a day's sketch go after `sketchDays`, so those are the copies that cannot wait.
CREATE INDEX plays_daily_pending ON plays_daily (day) WHERE rollup_pending;
ALTER TABLE plays_daily SET (fillfactor = 50);
