//! A TLS server run by the test process, standing in for what a hostile or slow party serves: an attacker's API
//! server that records the headers it receives, a spoke that answers with an endless body, a validating webhook that
//! takes its time. Its certificate is made with `openssl` (as `hack/local-clusters.sh` makes the clusters'), for
//! `localhost` and `127.0.0.1`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use anyhow::{ensure, Context as _, Result};
use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// What one request looked like.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

pub type Body = BoxBody<Bytes, std::io::Error>;
pub type Handler = Arc<dyn Fn(Seen) -> BoxFuture<'static, http::Response<Body>> + Send + Sync>;

/// A running server; it stops when dropped.
pub struct Listener {
    pub addr: SocketAddr,
    /// The CA bundle (PEM) that verifies the server, for a webhook's `caBundle`.
    pub ca_pem: Vec<u8>,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn full(body: impl Into<Bytes>) -> Body {
    use http_body_util::BodyExt;
    http_body_util::Full::new(body.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

impl Listener {
    /// Serves `handler` on 127.0.0.1 (a free port) over TLS; every request is recorded first.
    pub async fn start(handler: Handler) -> Result<Self> {
        crate::support::install_crypto_provider();
        let dir = tempfile::tempdir()?;
        let (certs, key, ca_pem) = self_signed(dir.path())?;
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = tcp.local_addr()?;
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let connections: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let (s, c) = (seen.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = tcp.accept().await else {
                    continue;
                };
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (acceptor, handler, seen) = (acceptor.clone(), handler.clone(), s.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service =
                        hyper::service::service_fn(move |req: http::Request<Incoming>| {
                            let (handler, seen) = (handler.clone(), seen.clone());
                            async move {
                                use http_body_util::BodyExt;
                                let (parts, body) = req.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let request = Seen {
                                    method: parts.method.to_string(),
                                    path: parts
                                        .uri
                                        .path_and_query()
                                        .map(|p| p.to_string())
                                        .unwrap_or_default(),
                                    headers: parts
                                        .headers
                                        .iter()
                                        .map(|(k, v)| {
                                            (
                                                k.to_string(),
                                                String::from_utf8_lossy(v.as_bytes()).into(),
                                            )
                                        })
                                        .collect(),
                                    body,
                                };
                                seen.lock().unwrap().push(request.clone());
                                Ok::<_, Infallible>(handler(request).await)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            ca_pem,
            seen,
            connections,
            task,
            _dir: dir,
        })
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// TCP connections accepted so far (a client that never gets past TLS still counts).
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A self-signed certificate for localhost / 127.0.0.1: (chain, key, the certificate as PEM).
fn self_signed(
    dir: &Path,
) -> Result<(
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    Vec<u8>,
)> {
    let (key, cert) = (dir.join("tls.key"), dir.join("tls.crt"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .context("running openssl")?;
    ensure!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = std::fs::read(&cert)?;
    let certs = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&key)?;
    Ok((certs, key, pem))
}
