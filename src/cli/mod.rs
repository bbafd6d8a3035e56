//! Subcommands. Each one destructures its arguments so an unused flag fails to compile.

pub mod adopt;
pub mod controller;
pub mod crdgen;
pub mod diff;
pub mod hub;
pub mod render;
pub mod report;
pub mod status;

use clap::{Parser, Subcommand};

/// `hivesync --version`: the crate's version and the commit it was built from (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("HIVESYNC_COMMIT"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "hivesync",
    version = VERSION,
    about = "Hive-compatible multi-cluster sync controller"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the controller against a hub.
    Controller(controller::Args),
    /// Register an existing cluster with the hub, as `hiveutil create-cluster --adopt` does.
    Adopt(adopt::Args),
    /// Write the CRD YAML generated from the API types.
    Crdgen(crdgen::Args),
    /// Show every cluster's sync state, or one cluster's SyncSets (exit 1 when something fails or is unreachable).
    Status(status::Args),
    /// Print what hivesync would send to a cluster now, as YAML (Secret data redacted).
    Render(render::Args),
    /// Preview a sync with a server-side dry run against the cluster (exit 1 when something would change).
    Diff(diff::Args),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Controller(args) => controller::run(args).await,
        Command::Adopt(args) => adopt::run(args).await,
        Command::Crdgen(args) => crdgen::run(args),
        Command::Status(args) => exit(status::run(args).await),
        Command::Render(args) => exit(render::run(args).await),
        Command::Diff(args) => exit(diff::run(args).await),
    }
}

/// Ends a report command with its exit code: 0 all good, 1 something to look at, 2 an error (printed with what to do).
fn exit(result: anyhow::Result<u8>) -> ! {
    use std::io::Write as _;
    let code = result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        2
    });
    let _ = std::io::stdout().flush();
    std::process::exit(code.into())
}

/// Logs go to stderr; `RUST_LOG` filters (default `info`), `HIVESYNC_LOG_FORMAT=json` for JSON lines.
pub fn init_tracing() {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,kube_client::client::builder=off"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("HIVESYNC_LOG_FORMAT").as_deref() == Ok("json") {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
