//! Building the client of one managed cluster from its client config: responses read into memory only up to
//! `consts::MAX_SPOKE_RESPONSE_BYTES` (a spoke is whatever server its kubeconfig names, and kube collects whole
//! bodies), requests counted in `hive_kube_client_*{remote="true"}`, and `spec.controlPlaneConfig.apiServerIPOverride`
//! honoured: every connection dials that IP (at the URL's port) while TLS still verifies the URL's host name, as
//! Hive's dialer does, for private API endpoints whose name the hub cannot resolve or route.

use std::net::{IpAddr, SocketAddr};

use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use kube::client::{ClientBuilder, ConfigExt};
use tower::ServiceBuilder;

use super::error::RemoteError;
use crate::consts::MAX_SPOKE_RESPONSE_BYTES;
use crate::metrics::ClientMetricsLayer;

/// Parses `apiServerIPOverride` (an IPv4 or IPv6 address).
pub fn ip_override(value: Option<&str>) -> Result<Option<IpAddr>, RemoteError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            RemoteError::config(format!(
                "invalid apiServerIPOverride {v:?}: not an IP address"
            ))
        }),
    }
}

/// A managed cluster's client for `config`, dialing `ip` instead of resolving the URL's host when given.
pub fn client(config: kube::Config, ip: Option<IpAddr>) -> Result<kube::Client, RemoteError> {
    let metrics = ClientMetricsLayer { remote: true };
    match ip {
        None => kube::client::ClientBuilder::try_from(config).map(|b| {
            b.with_layer(&metrics)
                .with_layer(&tower::util::MapResponseLayer::new(limit_body))
                .build()
        }),
        Some(ip) => overridden(config, ip).map(|b| {
            b.with_layer(&metrics)
                .with_layer(&tower::util::MapResponseLayer::new(limit_body))
                .build()
        }),
    }
    .map_err(|e| {
        RemoteError::config(format!(
            "could not build client for the admin kubeconfig: {e}"
        ))
    })
}

fn limit_body<B>(response: http::Response<B>) -> http::Response<http_body_util::Limited<B>> {
    response.map(|body| http_body_util::Limited::new(body, MAX_SPOKE_RESPONSE_BYTES))
}

/// kube's client stack (base URL, authentication, extra headers over rustls) on a connector whose resolver answers
/// every name with `ip`. No proxy: the override names the address to dial.
fn overridden(
    config: kube::Config,
    ip: IpAddr,
) -> kube::Result<
    ClientBuilder<
        impl tower::Service<
                http::Request<kube::client::Body>,
                Response = http::Response<hyper::body::Incoming>,
                Error = tower::BoxError,
                Future = impl Send,
            > + Send
            + 'static,
    >,
> {
    // The port is the URL's: the connector replaces the resolved address's port with it.
    let resolve = tower::service_fn(move |_: Name| async move {
        Ok::<_, std::io::Error>(std::iter::once(SocketAddr::new(ip, 0)))
    });
    let mut http = HttpConnector::new_with_resolver(resolve);
    http.enforce_http(false);
    http.set_connect_timeout(config.connect_timeout);
    let https = config.rustls_https_connector_with_connector(http)?;
    let client: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(https);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(client);
    Ok(ClientBuilder::new(
        service,
        config.default_namespace.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ip_override_must_be_an_address() {
        assert_eq!(ip_override(None), Ok(None));
        assert_eq!(ip_override(Some("")), Ok(None));
        assert_eq!(
            ip_override(Some("10.0.0.7")),
            Ok(Some("10.0.0.7".parse().unwrap()))
        );
        assert_eq!(
            ip_override(Some("fd00::1")),
            Ok(Some("fd00::1".parse().unwrap()))
        );
        assert_eq!(
            ip_override(Some("api.example.com")),
            Err(RemoteError::config(
                "invalid apiServerIPOverride \"api.example.com\": not an IP address"
            ))
        );
    }
}
