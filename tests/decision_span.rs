//! The `tracing` decision span carries the outcome, the reason and the cache's answer, and
//! never the token.
//!
//! Alone in its test binary: `tracing` caches each callsite's interest process-wide, so a test
//! running on another thread with no subscriber could register the span's callsite first, as
//! never enabled, and the span would then be missing here.
#![cfg(feature = "metrics")]

mod support;

use std::sync::{Arc, Mutex};

use http::StatusCode;
use support::layer::{bearer, layer, status};
use support::*;

/// What a `tracing` subscriber was told: span names with their fields, and event fields.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<(String, String, String)>>>);

struct Fields<'a>(&'a Captured, &'a str);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let mut all = self.0.0.lock().unwrap();
        all.push((
            self.1.to_owned(),
            field.name().to_owned(),
            format!("{value:?}"),
        ));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let mut all = self.0.0.lock().unwrap();
        all.push((self.1.to_owned(), field.name().to_owned(), value.to_owned()));
    }
}

impl<S> tracing_subscriber::Layer<S> for Captured
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let name = ctx.span(id).unwrap().name();
        attrs.record(&mut Fields(self, name));
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let name = ctx.span(id).unwrap().name();
        values.record(&mut Fields(self, name));
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        event.record(&mut Fields(self, "event"));
    }
}

#[test]
fn the_decision_span_carries_outcome_and_reason_and_never_the_token() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(captured.clone())
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    let forged = hs256_raw(
        br#"{"alg":"HS256","typ":"JWT"}"#,
        claims(r#","secret_marker":"do-not-log-me""#).as_bytes(),
        b"another secret, of 32 bytes or more",
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let cached = layer().cache_verified_tokens(4);
            assert_eq!(
                status(&cached, Some(&bearer(&forged))).await,
                StatusCode::UNAUTHORIZED
            );
            assert_eq!(
                status(&cached, Some(&bearer(&token("")))).await,
                StatusCode::OK
            );
        });
    });
    let all = captured.0.lock().unwrap().clone();
    let decision = |field: &str| -> Vec<String> {
        all.iter()
            .filter(|(span, name, _)| span == "decision" && name == field)
            .map(|(_, _, value)| value.clone())
            .collect()
    };
    assert_eq!(decision("outcome"), ["rejected", "accepted"], "{all:#?}");
    assert_eq!(decision("reason"), ["invalid_signature"], "{all:#?}");
    assert_eq!(decision("cache"), ["miss", "miss"], "{all:#?}");
    // Nothing recorded, in the span or in any event, holds the token or any part of it.
    let parts: Vec<&str> = forged.split('.').collect();
    for (_, name, value) in &all {
        for part in &parts {
            assert!(!value.contains(part), "{name} = {value}");
        }
        assert!(!value.contains("do-not-log-me"), "{name} = {value}");
    }
}
