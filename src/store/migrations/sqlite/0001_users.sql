-- The accounts the password grant checks. `scopes` is space-separated (RFC 6749 scope-tokens
-- hold no space); `disabled` is 0 or 1.
CREATE TABLE auth_users (
    id            TEXT    PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
