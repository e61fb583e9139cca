-- The accounts the password grant checks. `scopes` is space-separated (RFC 6749 scope-tokens
-- hold no space); `disabled` is a boolean.
CREATE TABLE auth_users (
    id            TEXT    PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
