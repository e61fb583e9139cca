//! Logs in over gRPC, then calls every greeter method and checks each outcome.
//!
//! ```sh
//! DEMO_PASSWORD=s3cret-demo cargo run --example tonic_client --features tonic,login
//! ```
//!
//! Environment: `SERVER_ADDR` (default `http://127.0.0.1:50051`), `DEMO_USER` (default
//! `demo`), `DEMO_PASSWORD` (required: the server's). Exits non-zero if any call's outcome is not
//! the expected one: the admin method must answer `PERMISSION_DENIED` unless the token was
//! granted `admin`.

#[path = "common/greeter.rs"]
mod greeter;

use std::process::ExitCode;

use greeter::GreeterClient;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tower_jwt_auth::tonic::BearerToken;
use tower_jwt_auth::tonic::auth::{AuthClient, LoginRequest};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

struct Checks {
    failed: usize,
}

impl Checks {
    fn check<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        outcome: &Result<T, tonic::Status>,
        expected: Code,
    ) {
        let got = match outcome {
            Ok(value) => {
                println!("{what}: OK {value:?}");
                Code::Ok
            }
            Err(status) => {
                println!("{what}: {:?} {:?}", status.code(), status.message());
                status.code()
            }
        };
        if got != expected {
            println!("  ✗ expected {expected:?}");
            self.failed += 1;
        }
    }
}

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let addr = env("SERVER_ADDR").unwrap_or_else(|| "http://127.0.0.1:50051".into());
    let user = env("DEMO_USER").unwrap_or_else(|| "demo".into());
    let Some(password) = env("DEMO_PASSWORD") else {
        eprintln!(
            "set DEMO_PASSWORD to the demo user's password (the server prints it when it generates one)"
        );
        return Ok(ExitCode::FAILURE);
    };
    let channel = Channel::from_shared(addr.clone())?.connect().await?;
    let token = BearerToken::new();
    let mut greeter = GreeterClient::new(InterceptedService::new(channel.clone(), token.clone()));
    let mut auth = AuthClient::new(channel);
    let mut checks = Checks { failed: 0 };

    checks.check(
        "SayHello without a token",
        &greeter.say_hello("world").await,
        Code::Ok,
    );
    checks.check(
        "WhoAmI without a token",
        &greeter.who_am_i().await,
        Code::Unauthenticated,
    );
    let wrong = auth
        .login(LoginRequest {
            username: user.clone(),
            password: "not the password".into(),
            scope: String::new(),
        })
        .await;
    checks.check(
        "Login with a wrong password",
        &wrong.map(|_| ()),
        Code::Unauthenticated,
    );

    let login = auth
        .login(LoginRequest {
            username: user.clone(),
            password,
            scope: String::new(),
        })
        .await;
    let summary = login
        .as_ref()
        .map(|r| r.get_ref().scope.clone())
        .map_err(Clone::clone);
    checks.check("Login (granted scopes)", &summary, Code::Ok);
    let Ok(login) = login else {
        return Ok(ExitCode::FAILURE);
    };
    let granted = login.into_inner();
    token.set(&granted.access_token)?;

    checks.check(
        "SayHello with a token",
        &greeter.say_hello("world").await,
        Code::Ok,
    );
    checks.check("WhoAmI", &greeter.who_am_i().await, Code::Ok);
    let is_admin = granted.scope.split_ascii_whitespace().any(|s| s == "admin");
    let expected = if is_admin {
        Code::Ok
    } else {
        Code::PermissionDenied
    };
    checks.check("AdminReport", &greeter.admin_report().await, expected);
    checks.check(
        "Countdown (streaming)",
        &greeter.countdown(3).await,
        Code::Ok,
    );

    token.set("not.a.token")?;
    checks.check(
        "WhoAmI with a bad token",
        &greeter.who_am_i().await,
        Code::Unauthenticated,
    );
    checks.check(
        "Countdown with a bad token",
        &greeter.countdown(3).await,
        Code::Unauthenticated,
    );

    if checks.failed == 0 {
        println!("all calls gave the expected outcome");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{} call(s) did not give the expected outcome",
            checks.failed
        );
        Ok(ExitCode::FAILURE)
    }
}
