//! The hub's CRDs, installed from `crds/` (or a candidate schema) once per test process.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::Client;

use super::{api_message, repo_root, wait_for, FIELD_MANAGER};

/// The directory the CRDs are installed from: `$HIVESYNC_E2E_CRD_DIR` (to try a candidate schema), else `<repo>/crds`.
pub fn crd_dir() -> PathBuf {
    match std::env::var_os("HIVESYNC_E2E_CRD_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join("crds"),
    }
}

/// Every CRD in [`crd_dir`], with its file name, sorted by file name.
pub fn read_crds() -> Result<Vec<(String, CustomResourceDefinition)>> {
    let dir = crd_dir();
    let mut crds = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "yaml")
            || path.file_name().is_some_and(|n| n == "kustomization.yaml")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let crd: CustomResourceDefinition =
            serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        crds.push((file, crd));
    }
    crds.sort_by(|a, b| a.0.cmp(&b.0));
    if crds.is_empty() {
        bail!("no CRDs in {} (run `cargo run -- crdgen`)", dir.display());
    }
    Ok(crds)
}

/// Server-side applies every CRD in [`crd_dir`] (field manager [`FIELD_MANAGER`], forced) and waits until each one is
/// `Established`. Returns the CRD names. Every refusal is reported, with the API server's message, not just the first.
pub async fn install_crds(client: &Client) -> Result<Vec<String>> {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    let mut refused = Vec::new();
    for (file, crd) in read_crds()? {
        let name = crd
            .metadata
            .name
            .clone()
            .ok_or_else(|| anyhow!("{file}: CRD without a name"))?;
        match api.patch(&name, &params, &Patch::Apply(&crd)).await {
            Ok(_) => names.push(name),
            Err(e) => refused.push(format!("{file}: {}", api_message(&e))),
        }
    }
    if !refused.is_empty() {
        bail!(
            "the hub refused {} CRD(s):\n{}",
            refused.len(),
            refused.join("\n")
        );
    }
    for name in &names {
        wait_for(Duration::from_secs(60), Duration::from_millis(250), || {
            let api = api.clone();
            async move {
                let crd = api.get(name).await?;
                let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
                if conditions
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                {
                    Ok(())
                } else {
                    let seen: Vec<String> = conditions
                        .iter()
                        .map(|c| {
                            format!(
                                "{}={} ({})",
                                c.type_,
                                c.status,
                                c.message.as_deref().unwrap_or("")
                            )
                        })
                        .collect();
                    bail!(
                        "CRD {name} is not Established; conditions: [{}]",
                        seen.join(", ")
                    )
                }
            }
        })
        .await?;
    }
    Ok(names)
}

/// [`install_crds`] once per test process; tests that only need the CRDs present call this.
pub async fn ensure_crds(client: &Client) -> Result<()> {
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    INSTALLED
        .get_or_try_init(|| async { install_crds(client).await.map(|_| ()) })
        .await
        .map(|_| ())
}
