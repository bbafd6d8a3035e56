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
