-- The reconciler's watermark (docs/ARCHITECTURE.md, "The reconciler"). A
-- pass used to scan every job finalized in the last six hours, every
-- ReconcileInterval; on a busy fleet that is every job of the last hours,
-- each joined to its node, several seconds of CPU every 15 s. Now a pass
-- scans only the jobs finalized since the previous pass's checked_until
-- (less a margin for clocks and late commits), and a full six-hour pass
-- runs once per hour (full_at) as the backstop.
ALTER TABLE qf_lease
    ADD COLUMN checked_until timestamptz,
    ADD COLUMN full_at       timestamptz;
