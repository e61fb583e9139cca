//! `examples/users.rs`, run as a user runs it, against a SQLite file: add (the password on
//! standard input), list, disable, enable, and the one-command import of a FastAPI app's user
//! table whose passlib bcrypt hashes then log in and are replaced by argon2id.
#![cfg(all(feature = "sqlite", feature = "legacy-hashes", feature = "axum"))]

#[path = "support/examples.rs"]
mod examples;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_jwt_auth::login::password::{Argon2Hasher, PasswordPolicy};
use tower_jwt_auth::login::{UserStore, login_handler};
use tower_jwt_auth::store::SqlStore;
use tower_jwt_auth::{Algorithm, SigningKey, TokenIssuer};

fn run(url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(examples::example("users"))
        .args(args)
        .env("DATABASE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn temp(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("tjwt-users-{}-{nanos}-{name}", std::process::id()))
}

async fn login(store: &SqlStore, username: &str, password: &str) -> StatusCode {
    let issuer = TokenIssuer::new(SigningKey::from_secret(Algorithm::HS256, &[3; 32]).unwrap());
    let hasher = Argon2Hasher::new(PasswordPolicy::default()).unwrap();
    let app = Router::new().route_service("/login", login_handler(store.clone(), issuer, hasher));
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", username)
        .append_pair("password", password)
        .finish();
    let response = app
        .oneshot(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let _ = response.into_body().collect().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_command_manages_accounts_and_imports_a_fastapi_table() {
    let db = temp("users.db");
    let url = format!("sqlite://{}", db.display());

    // add: the password on standard input, never on the command line.
    let added = ok(&run(
        &url,
        &["add", "ada", "--scopes", "read write"],
        "a long passphrase\n",
    ));
    assert!(added.contains("added \"ada\""), "{added}");
    let again = run(&url, &["add", "ada"], "another\n");
    assert!(!again.status.success(), "a second ada was added");
    let empty = run(&url, &["add", "bob"], "\n");
    assert!(!empty.status.success(), "an empty password was accepted");

    // A passlib table: bcrypt hashes as CryptContext(schemes=["bcrypt"]) wrote them.
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/vectors/passlib/hashes.json").unwrap(),
    )
    .unwrap();
    let bcrypt = vectors["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["hash"].as_str().unwrap().starts_with("$2b$")
                && c["password"] == "correct horse battery staple"
        })
        .unwrap();
    let csv = temp("users.csv");
    std::fs::write(
        &csv,
        format!(
            "username,hashed_password,scopes\ngrace,{},\"read admin\"\n\"linus\",{},\n",
            bcrypt["hash"].as_str().unwrap(),
            bcrypt["hash"].as_str().unwrap(),
        ),
    )
    .unwrap();
    let imported = ok(&run(&url, &["import", csv.to_str().unwrap()], ""));
    assert!(imported.contains("imported 2 users"), "{imported}");

    // A bad row imports nothing, and the error does not echo the field.
    let bad = temp("bad.csv");
    std::fs::write(&bad, "carol,$argon2id$x\ndave,hunter2\n").unwrap();
    let refused = run(&url, &["import", bad.to_str().unwrap()], "");
    assert!(!refused.status.success());
    assert!(!String::from_utf8_lossy(&refused.stderr).contains("hunter2"));

    ok(&run(&url, &["disable", "linus"], ""));
    let listed = ok(&run(&url, &["list"], ""));
    let line = |name: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{listed}"))
            .to_owned()
    };
    assert!(line("ada").contains("enabled") && line("ada").ends_with("read write"));
    assert!(line("grace").ends_with("read admin"), "{listed}");
    assert!(line("linus").contains("disabled"), "{listed}");
    assert!(!listed.contains("carol") && !listed.contains("dave"));
    assert!(!listed.contains('$'), "a hash was listed:\n{listed}");
    assert!(!run(&url, &["disable", "nobody"], "").status.success());

    // The server's side: the imported bcrypt account logs in and is rehashed to argon2id.
    let store = SqlStore::connect(&url).await.unwrap();
    assert_eq!(
        login(&store, "grace", "correct horse battery staple").await,
        StatusCode::OK
    );
    let grace = store.find_user("grace").await.unwrap().unwrap();
    assert!(
        grace.password_hash.starts_with("$argon2id$"),
        "{}",
        grace.password_hash
    );
    assert_eq!(
        login(&store, "grace", "correct horse battery staple").await,
        StatusCode::OK
    );
    assert_eq!(
        login(&store, "linus", "correct horse battery staple").await,
        StatusCode::BAD_REQUEST,
        "a disabled account logged in"
    );
    ok(&run(&url, &["enable", "linus"], ""));
    assert_eq!(
        login(&store, "linus", "correct horse battery staple").await,
        StatusCode::OK
    );
    assert_eq!(
        login(&store, "ada", "a long passphrase").await,
        StatusCode::OK
    );

    for file in [&csv, &bad] {
        let _ = std::fs::remove_file(file);
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
