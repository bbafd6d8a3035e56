//! `hivesync crdgen`: writes `crds/*.yaml` (or prints them all with `--stdout`).

use std::path::PathBuf;

use crate::api::crd;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write the CRD files into.
    #[arg(long, default_value = "crds")]
    pub dir: PathBuf,
    /// Print all CRDs as one YAML stream instead of writing files.
    #[arg(long)]
    pub stdout: bool,
}

pub fn run(Args { dir, stdout }: Args) -> anyhow::Result<()> {
    if !stdout {
        std::fs::create_dir_all(&dir)?;
    }
    if !stdout {
        std::fs::write(dir.join("kustomization.yaml"), crd::kustomization())?;
    }
    for (file, crd) in crd::all() {
        let yaml = crd::to_yaml(&crd)?;
        if stdout {
            println!("---\n{yaml}");
        } else {
            std::fs::write(dir.join(&file), yaml)?;
            eprintln!("wrote {}", dir.join(&file).display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::api::crd;

    /// The Helm chart installs the CRDs from its own crds/ (Helm reads nothing outside the chart): a copy of crds/
    /// that `make crds` refreshes.
    #[test]
    fn the_helm_charts_crds_match_the_types() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/helm/hivesync/crds");
        let mut expected = Vec::new();
        for (file, crd) in crd::all() {
            let committed = std::fs::read_to_string(dir.join(&file)).unwrap_or_else(|e| {
                panic!("deploy/helm/hivesync/crds/{file} missing ({e}); run `make crds`")
            });
            assert_eq!(
                committed,
                crd::to_yaml(&crd).unwrap(),
                "deploy/helm/hivesync/crds/{file} is stale; run `make crds` and commit"
            );
            expected.push(file);
        }
        let mut found: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        expected.sort();
        assert_eq!(
            found, expected,
            "deploy/helm/hivesync/crds/ holds only the CRDs"
        );
    }
}
