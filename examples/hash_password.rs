//! Prints the argon2id PHC string of a password read from standard input (never from the
//! command line, where it would land in shell history and `ps`).
//!
//! ```sh
//! cargo run --example hash_password --features login
//! ```
//!
//! Reads one line; a trailing newline is not part of the password. Uses the default policy
//! (m = 19456 KiB, t = 2, p = 1).

use std::io::{BufRead, IsTerminal, Write};

use tower_jwt_auth::login::password::{Argon2Hasher, PasswordPolicy, Zeroizing};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password (echoed; pipe it in to avoid that): ");
        std::io::stderr().flush()?;
    }
    let mut line = Zeroizing::new(String::new());
    stdin.lock().read_line(&mut line)?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    let hasher = Argon2Hasher::new(PasswordPolicy::default())?;
    println!("{}", hasher.hash_blocking(password)?);
    Ok(())
}
