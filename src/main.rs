use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // rustls needs one process-wide crypto provider before any client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = hivesync::cli::Cli::parse();
    hivesync::cli::init_tracing();
    hivesync::cli::run(cli).await
}
