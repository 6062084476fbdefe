-- Whether the run was told to withdraw even where a guard would stop it
-- (--force or --allow-mass-withdrawal), so the history shows who overrode
-- a guard.
ALTER TABLE runs ADD COLUMN forced INTEGER NOT NULL DEFAULT 0;
