//! Reading a cluster's admin kubeconfig from its Secret data, with Hive's error messages.
//!
//! A kubeconfig in a hub Secret is written by whoever may write that Secret, and hivesync holds every cluster's
//! credentials and the right to read every hub Secret. So a kubeconfig may carry inline data only: anything that makes
//! the reader run a program (`exec`, an `auth-provider` such as gcp's `cmd-path`) or read a file on its own machine
//! (`tokenFile`, `client-certificate`, `client-key`, `certificate-authority` paths; `tokenFile:
//! /var/run/secrets/kubernetes.io/serviceaccount/token` would send the controller's own hub token to the kubeconfig's
//! server) is refused by [`check_allowed`] before any client is built. The controller, the prober, `adopt` and `diff`
//! all read kubeconfigs through [`client_config`].

use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::error::RemoteError;

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

/// Refuses a kubeconfig that names a program to run or a local file to read, in any user or cluster (not only the
/// current context's: a context switch must not turn a refused entry on). Hive's message for `exec` (HIVE-2485) is
/// kept as it is; the others name the field the same way.
pub fn check_allowed(kubeconfig: &Kubeconfig) -> Result<(), RemoteError> {
    for named in &kubeconfig.auth_infos {
        let Some(user) = &named.auth_info else {
            continue;
        };
        let refused = [
            ("exec", user.exec.is_some()),
            ("auth-provider", user.auth_provider.is_some()),
            ("tokenFile", user.token_file.is_some()),
            ("client-certificate", user.client_certificate.is_some()),
            ("client-key", user.client_key.is_some()),
        ];
        if let Some((field, _)) = refused.iter().find(|(_, present)| *present) {
            return Err(refusal(field, "AuthInfos", &named.name));
        }
    }
    for named in &kubeconfig.clusters {
        if named
            .cluster
            .as_ref()
            .is_some_and(|c| c.certificate_authority.is_some())
        {
            return Err(refusal("certificate-authority", "Clusters", &named.name));
        }
    }
    Ok(())
}

fn refusal(field: &str, section: &str, name: &str) -> RemoteError {
    let why = match field {
        "exec" => return RemoteError::config(format!("insecure exec in {section}[{name}]")),
        "auth-provider" => "auth providers run programs; use an inline token or client certificate",
        _ => "file paths are not read; inline the data (the -data field, or token)",
    };
    RemoteError::config(format!("insecure {field} in {section}[{name}]: {why}"))
}

/// The YAML parser's messages may quote the scalar they failed on (`invalid type: string "…"`) or show the line it is
/// on, which may hold a token or key from the Secret: keep the message's first line and position, drop quoted
/// values and any excerpt of the input.
fn parse_error(e: &kube::config::KubeconfigError) -> RemoteError {
    let text = match e {
        kube::config::KubeconfigError::Parse(inner) => inner.to_string(),
        other => other.to_string(),
    };
    let first = text.lines().next().unwrap_or_default();
    let mut out = String::with_capacity(first.len());
    let mut quoted = None;
    for c in first.chars() {
        match quoted {
            Some(q) if c == q => quoted = None,
            Some(_) => {}
            None if c == '"' || c == '`' || c == '\'' => {
                out.push_str("\"…\"");
                quoted = Some(c);
            }
            None => out.push(c),
        }
    }
    RemoteError::config(format!(
        "could not parse admin kubeconfig: {}",
        out.trim_end()
    ))
}

/// Parses kubeconfig bytes into a client config. `api_url` replaces the server URL when the API URL override is
/// active. Kubeconfigs that run a program or read a local file are refused ([`check_allowed`]).
pub async fn client_config(
    data: Option<&[u8]>,
    api_url: Option<&str>,
    timeouts: Timeouts,
) -> Result<kube::Config, RemoteError> {
    let data = match data {
        Some(d) if !d.is_empty() => d,
        _ => {
            return Err(RemoteError::config(
                "kubeconfig secret does not contain necessary data",
            ))
        }
    };
    let text = std::str::from_utf8(data).map_err(|e| {
        RemoteError::config(format!(
            "kubeconfig is not valid UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })?;
    // kube's own reader (serde-saphyr, as kube itself parses kubeconfigs): several YAML documents merge as kubectl
    // merges files, the first entry of a name winning; the allow-list then sees every user and cluster kept.
    let kubeconfig = Kubeconfig::from_yaml(text).map_err(|e| parse_error(&e))?;
    check_allowed(&kubeconfig)?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| RemoteError::config(format!("invalid admin kubeconfig: {e}")))?;
    if let Some(url) = api_url {
        config.cluster_url = url
            .parse()
            .map_err(|e| RemoteError::config(format!("invalid API URL {url:?}: {e}")))?;
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
            RemoteError::config("kubeconfig secret does not contain necessary data")
        );
        assert_eq!(
            client_config(Some(b""), None, t).await.unwrap_err(),
            RemoteError::config("kubeconfig secret does not contain necessary data")
        );
        let err = client_config(Some(b"{not: [yaml"), None, t)
            .await
            .unwrap_err()
            .message;
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
                .unwrap_err()
                .message,
            "insecure exec in AuthInfos[admin]"
        );
    }

    #[tokio::test]
    async fn kubeconfigs_that_run_programs_or_read_files_are_refused_before_any_read() {
        let t = Timeouts::default();
        // A real file with a planted value: had it been read, the config would build and carry it.
        let dir = tempfile::tempdir().unwrap();
        let planted = dir.path().join("token");
        std::fs::write(&planted, "PLANTED-TOKEN").unwrap();
        let path = planted.display().to_string();
        let cases = [
            (
                "{auth-provider: {name: gcp, config: {cmd-path: /usr/bin/touch, cmd-args: marker}}}",
                "insecure auth-provider in AuthInfos[admin]: auth providers run programs; use an inline token or \
                 client certificate",
            ),
            (
                "{auth-provider: {name: oidc, config: {id-token: x}}}",
                "insecure auth-provider in AuthInfos[admin]: auth providers run programs; use an inline token or \
                 client certificate",
            ),
            (
                &format!("{{tokenFile: {path}}}"),
                "insecure tokenFile in AuthInfos[admin]: file paths are not read; inline the data (the -data \
                 field, or token)",
            ),
            (
                &format!("{{client-certificate: {path}, client-key-data: eA==}}"),
                "insecure client-certificate in AuthInfos[admin]: file paths are not read; inline the data (the \
                 -data field, or token)",
            ),
            (
                &format!("{{client-certificate-data: eA==, client-key: {path}}}"),
                "insecure client-key in AuthInfos[admin]: file paths are not read; inline the data (the -data \
                 field, or token)",
            ),
            (
                "{exec: {command: /bin/evil, apiVersion: client.authentication.k8s.io/v1}, tokenFile: /x}",
                "insecure exec in AuthInfos[admin]",
            ),
        ];
        for (user, want) in cases {
            let kc = KUBECONFIG.replace("{token: abc}", user);
            let err = client_config(Some(kc.as_bytes()), None, t)
                .await
                .unwrap_err();
            assert_eq!(err, RemoteError::config(want), "{user}");
        }
        // A user that no context names is refused too: switching context must not turn it on.
        let unused = KUBECONFIG.replace(
            "users: [",
            &format!("users: [{{name: spare, user: {{tokenFile: {path}}}}}, "),
        );
        assert!(client_config(Some(unused.as_bytes()), None, t)
            .await
            .unwrap_err()
            .message
            .starts_with("insecure tokenFile in AuthInfos[spare]"));
        let ca = KUBECONFIG.replace(
            "insecure-skip-tls-verify: true",
            &format!("certificate-authority: {path}"),
        );
        assert!(client_config(Some(ca.as_bytes()), None, t)
            .await
            .unwrap_err()
            .message
            .starts_with("insecure certificate-authority in Clusters[c]: file paths are not read"));
    }

    #[tokio::test]
    async fn inline_kubeconfigs_are_accepted() {
        let full = KUBECONFIG.replace(
            "{token: abc}",
            "{username: u, password: p, as: someone, as-groups: [g]}",
        )
        .replace(
            "insecure-skip-tls-verify: true",
            "insecure-skip-tls-verify: true, tls-server-name: api.example, proxy-url: \"http://127.0.0.1:3128\"",
        );
        let c = client_config(Some(full.as_bytes()), None, Timeouts::default())
            .await
            .unwrap();
        assert_eq!(c.tls_server_name.as_deref(), Some("api.example"));
        assert!(c.proxy_url.is_some());
    }

    #[tokio::test]
    async fn parse_errors_do_not_echo_values_from_the_secret() {
        let kc = KUBECONFIG.replace("users: [", "preferences: \"PLANTED-SECRET\"\nusers: [");
        let err = client_config(Some(kc.as_bytes()), None, Timeouts::default())
            .await
            .unwrap_err()
            .message;
        assert!(
            err.starts_with("could not parse admin kubeconfig: "),
            "{err}"
        );
        assert!(!err.contains("PLANTED"), "{err}");
    }

    #[tokio::test]
    async fn parse_errors_show_no_line_of_the_secret() {
        for bad in [
            "apiVersion: v1\nkind: Config\nusers: [{name: a, user: {token: PLANTED-TOKEN}\n",
            "apiVersion: v1\nkind: Config\nclusters: PLANTED-TOKEN\n",
            "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user: {token: [PLANTED-TOKEN]}\n",
            "PLANTED-TOKEN: [\n",
        ] {
            let err = client_config(Some(bad.as_bytes()), None, Timeouts::default())
                .await
                .unwrap_err()
                .message;
            assert!(
                err.starts_with("could not parse admin kubeconfig: "),
                "{err}"
            );
            assert!(!err.contains("PLANTED"), "{bad:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[tokio::test]
    async fn a_user_in_a_second_document_is_checked_too() {
        let two = format!(
            "{KUBECONFIG}---\napiVersion: v1\nkind: Config\nusers: [{{name: other, user: {{tokenFile: /x}}}}]\n"
        );
        assert!(
            client_config(Some(two.as_bytes()), None, Timeouts::default())
                .await
                .unwrap_err()
                .message
                .starts_with("insecure tokenFile in AuthInfos[other]")
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
