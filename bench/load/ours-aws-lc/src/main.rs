//! `server-awslc VARIANT`: the `ours-*` variants of `server` (bench/load/src/ours.rs) with the
//! crate's `aws-lc` signature backend, as `awslc-ours-*` (`awslc-ours-es256`,
//! `awslc-ours-rs256-cache`, `awslc-ours-remote-es256`, ...). Same conventions as `server`:
//! `127.0.0.1:$PORT`, `$WORKERS` tokio worker threads (default 1), keys from `$BENCH_KEYS`.

#[allow(dead_code)] // the peers of the main bench workspace use more of it
#[path = "../../src/lib.rs"]
mod bench;
#[path = "../../src/ours.rs"]
mod ours;

use bench::{KeyDir, bind_addr, runtime};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let variant = std::env::args()
        .nth(1)
        .ok_or("usage: server-awslc VARIANT")?;
    let ours = (variant.strip_prefix("awslc-"))
        .filter(|name| name.starts_with("ours-"))
        .ok_or_else(|| format!("unknown variant {variant:?}: awslc-ours-* only"))?
        .to_owned();
    let keys = KeyDir::from_env();
    let rt = runtime(Some(1));
    rt.block_on(async move {
        let app = ours::router(&ours, &keys).await?;
        let listener = tokio::net::TcpListener::bind(bind_addr()).await?;
        eprintln!("{variant} listening on http://{}", listener.local_addr()?);
        // Accept loop and connections all on the runtime's worker thread(s).
        tokio::spawn(async move { axum::serve(listener, app).await }).await??;
        Ok(())
    })
}
