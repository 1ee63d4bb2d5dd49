-- The platform overview's identity count as a counter the fold keeps (rollup_state,
-- IDENTITIES_WITH_LOGIN_KEY in src/db/schema.ts), instead of counting identities on every read.
-- Starts from what is sealed now; every later fold adds the identities it gives a first login.
INSERT INTO `rollup_state` (`key`, `value`)
SELECT 'identities_with_login', COUNT(*) FROM `identities` WHERE `first_day` IS NOT NULL;
