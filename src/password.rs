//! argon2id password hashing off the async executor (feature `login`).
