//! `fleetdns demo-backend`: tiny HTTP servers that answer 200 on every path, for
//! trying health probes locally (start one per endpoint address, kill one, watch
//! `dig` stop returning it).

use std::process::ExitCode;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::cli::DemoBackendArgs;
use crate::http::{self, text};

pub fn run(args: DemoBackendArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let mut tasks = tokio::task::JoinSet::new();
        for addr in args.listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            info!(%addr, "demo backend listening");
            let shutdown = shutdown.clone();
            tasks.spawn(http::serve(
                listener,
                move |_req| async move { text(200, "text/plain", format!("ok from {addr}\n")) },
                shutdown,
            ));
        }
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        shutdown.cancel();
        while tasks.join_next().await.is_some() {}
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
