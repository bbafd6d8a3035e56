//! The HTTP endpoint: `/metrics` (Prometheus text), `/healthz` and `/readyz`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use prometheus::{Encoder, TextEncoder};

/// Serves until the process ends. `ready` turns true once the hub caches are synced.
pub async fn serve(addr: SocketAddr, ready: Arc<AtomicBool>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    loop {
        let (stream, _) = listener.accept().await?;
        let ready = ready.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, ready.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    ready: Arc<AtomicBool>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (code, body) = match req.uri().path() {
        "/metrics" => {
            let mut buf = Vec::new();
            let _ = TextEncoder::new().encode(&prometheus::gather(), &mut buf);
            (200, buf)
        }
        "/healthz" => (200, b"ok".to_vec()),
        "/readyz" if ready.load(Ordering::Relaxed) => (200, b"ok".to_vec()),
        "/readyz" => (503, b"caches not synced".to_vec()),
        _ => (404, b"not found".to_vec()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::OK);
    Ok(resp)
}
