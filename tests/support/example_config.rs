//! The example server's configuration as the in-process tests run it: the demo account (`demo`,
//! [`PASSWORD`], scope `read`), a cheap password policy, the default throttle, no per-client
//! login rate, and everything kept in memory.
//!
//! For the test binaries that include the example's `app` and `demo` modules, next to them:
//! `#[path = "support/example_config.rs"] mod example_config;`.
#![allow(dead_code)]

use tower_jwt_auth::TokenIssuer;
use tower_jwt_auth::login::ThrottlePolicy;
use tower_jwt_auth::login::password::PasswordPolicy;

use crate::{app, demo};

/// The demo account's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// The configuration, signing with `issuer`.
pub fn config(issuer: TokenIssuer) -> app::Config {
    app::Config {
        issuer,
        demo: demo::Demo {
            user: "demo".into(),
            password: PASSWORD.into(),
            scopes: vec!["read".into()],
        },
        policy: PasswordPolicy::default().m_cost_kib(256).t_cost(1),
        throttle: ThrottlePolicy::default(),
        login_rate_per_minute: 0,
        database_url: None,
        redis_url: None,
    }
}
