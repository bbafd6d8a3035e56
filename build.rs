//! Names the commit the binary was built from, for `hivesync --version` and `hivesync_build_info{commit}`:
//! `HIVESYNC_COMMIT` when set (the image build, which has no `.git`), else `git rev-parse --short=12 HEAD` when the
//! sources are a git checkout, else `unknown` (a crates.io tarball). Runs no network command.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=HIVESYNC_COMMIT");
    let commit = std::env::var("HIVESYNC_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_string())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=HIVESYNC_COMMIT={commit}");
}

fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    // Rebuild when HEAD moves: HEAD itself (a checkout) and the ref it points at (a commit).
    if let Some(dir) = git_path("HEAD") {
        println!("cargo:rerun-if-changed={dir}");
    }
    let head = Command::new("git")
        .args(["symbolic-ref", "-q", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(reference) = head {
        if let Some(path) = git_path(&reference) {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
        if let Some(packed) = git_path("packed-refs") {
            if Path::new(&packed).exists() {
                println!("cargo:rerun-if-changed={packed}");
            }
        }
    }
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!commit.is_empty()).then_some(commit)
}

/// The path of a file inside the git directory (`git rev-parse --git-path`, which knows worktrees).
fn git_path(name: &str) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--path-format=absolute", "--git-path", name])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
