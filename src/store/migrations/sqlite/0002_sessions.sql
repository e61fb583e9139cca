-- Refresh-token families: one row per login, holding the SHA-256 of its current token and of
-- the current token's immediate predecessor (for the grace period). No token is ever stored.
CREATE TABLE auth_refresh_families (
    id                 TEXT    PRIMARY KEY,
    user_id            TEXT    NOT NULL,
    scope              TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    expires_at         BIGINT  NOT NULL,
    current_hash       BLOB    NOT NULL UNIQUE CHECK (length(current_hash) = 32),
    current_expires_at BIGINT  NOT NULL,
    previous_hash      BLOB    NULL CHECK (previous_hash IS NULL OR length(previous_hash) = 32),
    rotated_at         BIGINT  NULL,
    generation         BIGINT  NOT NULL,
    revoked_at         BIGINT  NULL
);
CREATE INDEX auth_refresh_families_revoked_at ON auth_refresh_families (revoked_at);
CREATE INDEX auth_refresh_families_expires_at ON auth_refresh_families (expires_at);
CREATE INDEX auth_refresh_families_user_id ON auth_refresh_families (user_id);

-- Every refresh token ever issued, by hash, so that an old one presented again is a reuse.
CREATE TABLE auth_refresh_tokens (
    hash       BLOB   PRIMARY KEY CHECK (length(hash) = 32),
    family_id  TEXT   NOT NULL REFERENCES auth_refresh_families (id) ON DELETE CASCADE,
    generation BIGINT NOT NULL
);
CREATE INDEX auth_refresh_tokens_family_id ON auth_refresh_tokens (family_id);

-- Revoked access tokens by (iss, jti), until their exp: they seed each instance's denylist.
-- `issuer` is '' for a token without `iss`.
CREATE TABLE auth_revoked_tokens (
    issuer     TEXT   NOT NULL,
    jwt_id     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jwt_id)
);
CREATE INDEX auth_revoked_tokens_expires_at ON auth_revoked_tokens (expires_at);
