//! Reading a cluster's admin kubeconfig from its Secret data, with Hive's error messages.

use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

/// Per-request limits for spoke calls: a dead or slow cluster must never hold a worker for long.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(20),
        }
    }
}

/// Parses kubeconfig bytes into a client config. `api_url` replaces the server URL when the API URL override is
/// active. Kubeconfigs that run an `exec` plugin are refused (HIVE-2485): a hub must not run commands named by a
/// Secret.
pub async fn client_config(
    data: Option<&[u8]>,
    api_url: Option<&str>,
    timeouts: Timeouts,
) -> Result<kube::Config, String> {
    let data = match data {
        Some(d) if !d.is_empty() => d,
        _ => return Err("kubeconfig secret does not contain necessary data".into()),
    };
    let text =
        std::str::from_utf8(data).map_err(|e| format!("kubeconfig is not valid UTF-8: {e}"))?;
    let kubeconfig: Kubeconfig =
        serde_yaml::from_str(text).map_err(|e| format!("could not parse admin kubeconfig: {e}"))?;
    for named in &kubeconfig.auth_infos {
        if named.auth_info.as_ref().is_some_and(|a| a.exec.is_some()) {
            return Err(format!("insecure exec in AuthInfos[{}]", named.name));
        }
    }
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| format!("invalid admin kubeconfig: {e}"))?;
    if let Some(url) = api_url {
        config.cluster_url = url
            .parse()
            .map_err(|e| format!("invalid API URL {url:?}: {e}"))?;
    }
    config.connect_timeout = Some(timeouts.connect);
    // No stream-level read/write timeouts: every remote call has its own deadline (`ops::with_timeout`), and a read
    // timeout on the connection also fires on an idle pooled connection, so a cluster probed less often than it
    // closed and reopened a TLS connection per probe (the idle-CPU profile: ~40% in dropping connections).
    config.read_timeout = None;
    config.write_timeout = None;
    // Retries of 429/503 would hold the cluster's worker; the reconcile's own requeue retries instead.
    config.default_retry = false;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: abc}}]
contexts: [{name: c, context: {cluster: c, user: admin}}]
current-context: c
"#;

    #[tokio::test]
    async fn bad_kubeconfigs_get_clear_messages() {
        let t = Timeouts::default();
        assert_eq!(
            client_config(None, None, t).await.unwrap_err(),
            "kubeconfig secret does not contain necessary data"
        );
        assert_eq!(
            client_config(Some(b""), None, t).await.unwrap_err(),
            "kubeconfig secret does not contain necessary data"
        );
        let err = client_config(Some(b"{not: [yaml"), None, t)
            .await
            .unwrap_err();
        assert!(
            err.starts_with("could not parse admin kubeconfig: "),
            "{err}"
        );
        let exec = KUBECONFIG.replace(
            "{token: abc}",
            "{exec: {command: /bin/evil, apiVersion: client.authentication.k8s.io/v1}}",
        );
        assert_eq!(
            client_config(Some(exec.as_bytes()), None, t)
                .await
                .unwrap_err(),
            "insecure exec in AuthInfos[admin]"
        );
    }

    #[tokio::test]
    async fn the_api_url_override_replaces_the_server() {
        let c = client_config(
            Some(KUBECONFIG.as_bytes()),
            Some("https://10.0.0.1:6443"),
            Timeouts::default(),
        )
        .await
        .unwrap();
        assert_eq!(c.cluster_url.to_string(), "https://10.0.0.1:6443/");
        assert!(!c.default_retry);
    }
}
