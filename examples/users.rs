//! Manages the accounts of the example server, in the same database (`DATABASE_URL`).
//!
//! ```sh
//! export DATABASE_URL=sqlite://tower-jwt-auth.db     # the example server's default
//! printf '%s\n' 'a long passphrase' | cargo run --example users --features axum,login,sqlite,postgres -- add ada --scopes "read write"
//! cargo run --example users --features axum,login,sqlite,postgres -- list
//! cargo run --example users --features axum,login,sqlite,postgres -- disable ada
//! cargo run --example users --features axum,login,sqlite,postgres -- enable ada
//! cargo run --example users --features axum,login,sqlite,postgres -- import users.csv
//! ```
//!
//! `add` reads the password from standard input (one line), so it stays out of the shell's
//! history and the process list. `import` reads a CSV of `username,password_hash[,scopes]`
//! (a header line is skipped; scopes space-separated), for example a FastAPI app's user table
//! exported with `COPY (SELECT username, hashed_password, scopes FROM users) TO STDOUT CSV`:
//! argon2 hashes (passlib's included) and, with the `legacy-hashes` feature, bcrypt hashes
//! (`$2a$`, `$2b$`, `$2y$`) are taken as they are and replaced by argon2id at each user's next
//! login. The import is one transaction: a bad row imports nothing.
//!
//! A user's id (the tokens' `sub`) is the username unless `--id` says otherwise.

#[path = "common/demo.rs"]
mod demo;

use std::io::BufRead as _;

use demo::{Error, env};
use tower_jwt_auth::login::User;
use tower_jwt_auth::login::password::{Argon2Hasher, PasswordPolicy};
use tower_jwt_auth::store::SqlStore;

const USAGE: &str = "usage: users add USERNAME [--scopes \"a b\"] [--id ID] | disable USERNAME | \
                     enable USERNAME | list | import FILE.csv";

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = env("DATABASE_URL").unwrap_or_else(|| "sqlite://tower-jwt-auth.db".into());
    let store = SqlStore::connect(&url)
        .await
        .map_err(|e| format!("DATABASE_URL {url:?}: {e}"))?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["add", username, options @ ..] => add(&store, username, options).await,
        ["disable", username] => set_disabled(&store, username, true).await,
        ["enable", username] => set_disabled(&store, username, false).await,
        ["list"] => list(&store).await,
        ["import", file] => import(&store, file).await,
        _ => Err(USAGE.into()),
    }
}

async fn add(store: &SqlStore, username: &str, options: &[&str]) -> Result<(), Error> {
    let (mut scopes, mut id) = (Vec::new(), username.to_owned());
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match (*option, options.next()) {
            ("--scopes", Some(value)) => {
                scopes = value.split_ascii_whitespace().map(str::to_owned).collect();
            }
            ("--id", Some(value)) => id = (*value).to_owned(),
            _ => return Err(USAGE.into()),
        }
    }
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    let hasher = Argon2Hasher::new(PasswordPolicy::default())?;
    let hash = hasher.hash_blocking(password)?;
    store
        .add_user(username, &User::new(id.clone(), hash, scopes))
        .await?;
    println!("added {username:?} (id {id:?})");
    Ok(())
}

async fn set_disabled(store: &SqlStore, username: &str, disabled: bool) -> Result<(), Error> {
    if !store.set_disabled(username, disabled).await? {
        return Err(format!("no user {username:?}").into());
    }
    println!(
        "{username:?} {}",
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(())
}

async fn list(store: &SqlStore) -> Result<(), Error> {
    println!("{:<24} {:<24} {:<9} scopes", "username", "id", "state");
    for (username, user) in store.list_users().await? {
        let state = if user.disabled { "disabled" } else { "enabled" };
        println!(
            "{username:<24} {:<24} {state:<9} {}",
            user.id,
            user.scopes.join(" ")
        );
    }
    Ok(())
}

async fn import(store: &SqlStore, file: &str) -> Result<(), Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(file)
        .map_err(|e| format!("{file}: {e}"))?;
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{file}: {e}"))?;
        let line = n + 1;
        let field = |i: usize| record.get(i).unwrap_or("");
        if line == 1 && field(0).eq_ignore_ascii_case("username") {
            continue;
        }
        let (username, hash) = (field(0), field(1));
        if username.is_empty() || hash.is_empty() {
            return Err(
                format!("{file}:{line}: a username and a password hash are required").into(),
            );
        }
        if !hash.starts_with('$') {
            // Never echo the field: it may be a password pasted into the wrong column.
            return Err(
                format!("{file}:{line}: the second field is not a PHC or bcrypt hash").into(),
            );
        }
        let scopes = field(2).split_ascii_whitespace().map(str::to_owned);
        rows.push((username.to_owned(), User::new(username, hash, scopes)));
    }
    let imported = store.import_users(&rows).await?;
    println!("imported {imported} users from {file}");
    Ok(())
}
