//! Commands a test runs to completion: kubectl (from the Kubernetes binaries `hack/k8s-bins.sh` builds), the hivesync
//! CLI as a user runs it against the hub, and readable access to what they printed.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use super::{hub_kubeconfig, repo_root};

/// The directory holding kubectl, kube-apiserver, etcd, ...: `$K8S_BIN_DIR`, else what `hack/k8s-bins.sh` prints
/// (run once per test process).
pub fn k8s_bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(
        || match std::env::var_os("K8S_BIN_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => script_dir("hack/k8s-bins.sh"),
        },
    )
}

/// The directory the repo's `script` prints (it builds tools into the cache when needed, then says where they are).
pub fn script_dir(script: &str) -> PathBuf {
    let script = repo_root().join(script);
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}); K8S_BIN_DIR (or HELM, for helm) names binaries of your own",
        script.display(),
        out.status
    );
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!dir.is_empty(), "{} printed no directory", script.display());
    PathBuf::from(dir)
}

/// kubectl: `$KUBECTL`, else `<bin dir>/kubectl`.
pub fn kubectl_path() -> PathBuf {
    match std::env::var_os("KUBECTL") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => k8s_bin_dir().join("kubectl"),
    }
}

fn kubectl_command<I, S>(kubeconfig: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(kubectl_path());
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    cmd
}

/// Runs kubectl against the cluster in `kubeconfig` and returns what it did (whatever its exit status).
pub fn kubectl<I, S>(kubeconfig: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = kubectl_command(kubeconfig, args);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()))
}

/// Runs kubectl with `stdin` as its standard input (for `-f -`).
pub fn kubectl_with_stdin<I, S>(kubeconfig: &Path, args: I, stdin: &str) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = kubectl_command(kubeconfig, args);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    let mut input = child.stdin.take().expect("kubectl stdin is piped");
    let stdin = stdin.to_owned();
    // Written from a thread so that a kubectl that fails before reading all of it cannot deadlock us.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let out = child.wait_with_output().expect("waiting for kubectl");
    let _ = writer.join();
    out
}

/// The hivesync binary: `$HIVESYNC_E2E_BIN`, else the one cargo built for this test.
pub fn hivesync_bin() -> PathBuf {
    match std::env::var_os("HIVESYNC_E2E_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_hivesync")),
    }
}

/// `hivesync ARGS... --kubeconfig <hub>`, to be run (the environment is the test's own).
pub fn hivesync_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(hivesync_bin());
    cmd.args(args).arg("--kubeconfig").arg(hub_kubeconfig());
    cmd
}

/// Runs `hivesync ARGS... --kubeconfig <hub>` as a user would (stdout piped, so without colour), with no
/// `HIVESYNC_KUBECONFIG` and `RUST_LOG=warn`.
pub fn hivesync(args: &[&str]) -> Output {
    hivesync_command(args)
        .env_remove("HIVESYNC_KUBECONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", hivesync_bin().display()))
}

/// Readable access to a finished command.
pub trait OutputExt {
    fn stdout_text(&self) -> String;
    fn stderr_text(&self) -> String;
    /// Exit status and both streams, for assertion messages.
    fn describe(&self) -> String;
}

impl OutputExt for Output {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn describe(&self) -> String {
        format!(
            "{}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status,
            self.stdout_text(),
            self.stderr_text()
        )
    }
}

/// Parses kubectl's table output (`kubectl get` without `-o`, or `-o wide`) into its header and rows of cells,
/// cutting each line at the columns' start offsets in the header (cells may contain spaces).
pub fn parse_table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return (Vec::new(), Vec::new());
    };
    let mut starts = Vec::new();
    let mut previous = ' ';
    for (i, c) in header.char_indices() {
        if c != ' ' && previous == ' ' {
            starts.push(i);
        }
        previous = c;
    }
    let cut = |line: &str| -> Vec<String> {
        starts
            .iter()
            .enumerate()
            .map(|(n, &start)| {
                let end = starts
                    .get(n + 1)
                    .copied()
                    .unwrap_or(usize::MAX)
                    .min(line.len());
                line.get(start.min(line.len())..end)
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })
            .collect()
    };
    let names = cut(header);
    let rows = lines.map(cut).collect();
    (names, rows)
}
