#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's background thread purges freed pages after ~1 s, so RSS follows the live heap down after a burst.
/// The one `unsafe` of the crate: jemalloc reads its configuration from this exported symbol.
#[cfg(feature = "jemalloc")]
#[allow(non_upper_case_globals, unsafe_code)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000\0";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // rustls needs one process-wide crypto provider before any client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = hivesync::cli::parse();
    hivesync::cli::init_tracing(cli.log_format);
    hivesync::cli::run(cli).await
}
