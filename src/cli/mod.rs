//! Subcommands. Each one destructures its arguments so an unused flag fails to compile.

pub mod adopt;
pub mod controller;
pub mod crdgen;
pub mod duration;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "hivesync",
    version,
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
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Controller(args) => controller::run(args).await,
        Command::Adopt(args) => adopt::run(args).await,
        Command::Crdgen(args) => crdgen::run(args),
    }
}

/// Logs go to stderr; `RUST_LOG` filters (default `info`), `HIVESYNC_LOG_FORMAT=json` for JSON lines.
pub fn init_tracing() {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("HIVESYNC_LOG_FORMAT").as_deref() == Ok("json") {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
