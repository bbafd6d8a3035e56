//! The hivesync controller: its log (the suite's shared controller, started by `hack/e2e.sh`, logs to
//! `$HIVESYNC_E2E_CONTROLLER_LOG`), and controllers a test starts, kills and restarts itself ([`Controller`]).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};

use super::{hivesync_bin, hub_kubeconfig, wait_for};

/// The controller's log file (`$HIVESYNC_E2E_CONTROLLER_LOG`, set by `hack/e2e.sh`), if known.
pub fn controller_log() -> Option<PathBuf> {
    std::env::var_os("HIVESYNC_E2E_CONTROLLER_LOG")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// Removes ANSI colour escapes (the controller logs in colour).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The controller's log lines that contain `needle`, without colour.
pub fn controller_log_lines(needle: &str) -> Vec<String> {
    let Some(path) = controller_log() else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read(&path) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&text)
        .lines()
        .map(strip_ansi)
        .filter(|l| l.contains(needle))
        .collect()
}

/// The last `n` controller log lines that contain `needle`, formatted for a failure message (empty without a log).
pub fn controller_log_tail(needle: &str, n: usize) -> String {
    let lines = controller_log_lines(needle);
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(n);
    format!(
        "\ncontroller log lines mentioning {needle} (last {}):\n{}",
        lines.len() - start,
        lines[start..].join("\n")
    )
}

/// Waits (up to `timeout`) until the controller's log has a line that contains every one of `needles` (colour
/// removed), and returns those lines. Fails at once when the log's path is unknown (no `$HIVESYNC_E2E_CONTROLLER_LOG`,
/// e.g. with `HIVESYNC_E2E_EXTERNAL_CONTROLLER=1`).
pub async fn wait_for_controller_log_line(
    needles: &[&str],
    timeout: Duration,
) -> Result<Vec<String>> {
    let Some(path) = controller_log() else {
        bail!("the controller's log is unknown: HIVESYNC_E2E_CONTROLLER_LOG is not set (run through hack/e2e.sh)");
    };
    let (path, first) = (&path, needles.first().copied().unwrap_or_default());
    wait_for(timeout, Duration::from_millis(250), || async move {
        let lines: Vec<String> = controller_log_lines(first)
            .into_iter()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .collect();
        if lines.is_empty() {
            bail!(
                "no line of the controller log {} contains all of {needles:?}{}",
                path.display(),
                controller_log_tail(first, 10)
            );
        }
        Ok(lines)
    })
    .await
}

// ------------------------------------------------------------------------------- controllers started by a test
// The e2e-restart target's alone (e2e/restart.rs): the `e2e` target, which shares this module, uses none of it, hence
// the `allow(dead_code)`s.

/// Set (to `1`) by `hack/e2e.sh` for its second phase, the `e2e-restart` target (e2e/restart.rs): no shared controller
/// runs, each test starts and kills controllers of its own ([`Controller`]).
#[allow(dead_code)]
pub const OWN_CONTROLLER_ENV: &str = "HIVESYNC_E2E_OWN_CONTROLLER";

/// Fails (with how to run it) unless the suite runs without a shared controller, so that a test may start, kill and
/// restart controllers of its own: `hack/e2e.sh` runs the `e2e-restart` target that way, after the `e2e` target.
#[allow(dead_code)]
pub fn require_own_controller() -> Result<()> {
    if std::env::var(OWN_CONTROLLER_ENV).as_deref() == Ok("1") {
        return Ok(());
    }
    bail!(
        "this test starts and kills controllers of its own, so no other controller may run against the hub: run it \
         through hack/e2e.sh (its second phase, the e2e-restart target, sets {OWN_CONTROLLER_ENV}=1 after stopping \
         the shared controller), e.g. `hack/e2e.sh restart_`; it is not run with HIVESYNC_E2E_EXTERNAL_CONTROLLER=1"
    )
}

/// A `hivesync controller` process started by a test (stdout and stderr appended to the controller log, after a
/// marker line). Dropping it kills the process (SIGKILL) and reaps it.
///
/// The binary is [`hivesync_bin`] (`$HIVESYNC_E2E_BIN`, else the one cargo built), the hub kubeconfig
/// `$HIVESYNC_E2E_CONTROLLER_KUBECONFIG` (else [`hub_kubeconfig`]), the log `$HIVESYNC_E2E_CONTROLLER_LOG` (so
/// [`controller_log_lines`] sees it; else a file in the temp directory). Each pid is appended to
/// `$HIVESYNC_E2E_CONTROLLER_PIDFILE` when set, so `hack/e2e.sh` can end a controller a killed test run left behind.
#[allow(dead_code)]
pub struct Controller {
    child: std::process::Child,
    log: PathBuf,
    /// Where this process's output starts in the log.
    offset: u64,
}

#[allow(dead_code)]
impl Controller {
    /// The flags every test controller gets unless `args` gives them: those of the shared controller.
    pub const DEFAULT_ARGS: &'static [(&'static str, &'static str)] = &[
        ("--probe-interval", "2s"),
        ("--remote-timeout", "5s"),
        ("--metrics-address", "127.0.0.1:0"),
    ];

    /// Starts `hivesync controller --kubeconfig <hub> [DEFAULT_ARGS not in args] args...` and returns once it logs
    /// "hub caches synced" (within 30 s), or fails with its log.
    pub async fn start(args: &[&str]) -> Result<Self> {
        Self::start_with_env(args, &[]).await
    }

    /// [`Controller::start`] with extra environment variables (e.g. `RUST_LOG`).
    pub async fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        let controller = Self::spawn(args, env, None)?;
        controller.wait_until_synced().await
    }

    /// Starts a controller without waiting for its hub caches (e.g. while the hub is down).
    pub fn start_without_waiting(args: &[&str]) -> Result<Self> {
        Self::spawn(args, &[], None)
    }

    /// Starts a controller that logs to a file of its own (`<suite log>.<suffix>`), for tests that tell replicas'
    /// logs apart.
    pub async fn start_with_own_log(args: &[&str], suffix: &str) -> Result<Self> {
        let base = controller_log()
            .unwrap_or_else(|| std::env::temp_dir().join("hivesync-e2e-controller.log"));
        let log = base.with_extension(format!("log.{suffix}"));
        Self::spawn(args, &[], Some(log))?.wait_until_synced().await
    }

    fn spawn(args: &[&str], env: &[(&str, &str)], log: Option<PathBuf>) -> Result<Self> {
        require_own_controller()?;
        let bin = hivesync_bin();
        let kubeconfig = std::env::var_os("HIVESYNC_E2E_CONTROLLER_KUBECONFIG")
            .filter(|k| !k.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(hub_kubeconfig);
        let log = log
            .or_else(controller_log)
            .unwrap_or_else(|| std::env::temp_dir().join("hivesync-e2e-controller.log"));
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening the controller log {}", log.display()))?;
        let test = std::thread::current()
            .name()
            .unwrap_or("<unnamed test>")
            .to_string();
        writeln!(
            file,
            "===== e2e: {test} starts a controller ({})",
            jiff::Timestamp::now()
        )?;
        let offset = file.metadata()?.len();

        let mut command = Command::new(&bin);
        command
            .arg("controller")
            .arg("--kubeconfig")
            .arg(&kubeconfig);
        for (flag, value) in Self::DEFAULT_ARGS {
            let given = args
                .iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}=")));
            if !given {
                command.arg(flag).arg(value);
            }
        }
        command
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        let child = command
            .spawn()
            .with_context(|| format!("starting {} (run `cargo build`)", bin.display()))?;
        if let Some(pidfile) =
            std::env::var_os("HIVESYNC_E2E_CONTROLLER_PIDFILE").filter(|p| !p.is_empty())
        {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&pidfile)
                .with_context(|| format!("opening {}", PathBuf::from(&pidfile).display()))?;
            writeln!(f, "{}", child.id())?;
        }
        let controller = Self { child, log, offset };
        eprintln!(
            "started controller pid {} (log {})",
            controller.pid(),
            controller.log.display()
        );
        Ok(controller)
    }

    /// Waits until the controller logs that its hub caches are synced.
    pub async fn wait_until_synced(mut self) -> Result<Self> {
        let started = std::time::Instant::now();
        loop {
            let controller = &mut self;
            if controller.output().contains("hub caches synced") {
                eprintln!(
                    "controller pid {} synced its hub caches after {:?}",
                    controller.pid(),
                    started.elapsed()
                );
                return Ok(self);
            }
            if let Some(status) = controller.child.try_wait()? {
                bail!(
                    "the controller exited ({status}) before its hub caches synced; its output:\n{}",
                    controller.output()
                );
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "the controller did not log \"hub caches synced\" within 30s; its output:\n{}",
                    controller.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (not exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: no shutdown of any kind; returns once the process is reaped.
    pub fn kill9(&mut self) -> Result<()> {
        if self.is_running() {
            self.child.kill().context("killing the controller")?;
        }
        self.child.wait().context("reaping the controller")?;
        eprintln!("killed controller pid {} (SIGKILL)", self.pid());
        Ok(())
    }

    /// SIGTERM (what the kubelet sends), then waits up to `grace` for the process to exit; returns its exit status.
    pub fn terminate(&mut self, grace: Duration) -> Result<std::process::ExitStatus> {
        let out = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .output()
            .context("running kill -TERM")?;
        ensure!(out.status.success(), "kill -TERM {} failed", self.pid());
        let deadline = std::time::Instant::now() + grace;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "the controller (pid {}) did not exit within {grace:?} of SIGTERM",
                self.pid()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What this process has logged so far, without colour.
    pub fn output(&self) -> String {
        use std::io::{Read as _, Seek as _, SeekFrom};
        let mut text = Vec::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            if f.seek(SeekFrom::Start(self.offset)).is_ok() {
                let _ = f.read_to_end(&mut text);
            }
        }
        String::from_utf8_lossy(&text)
            .lines()
            .map(strip_ansi)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// This process's log lines that contain `needle`, without colour.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.output()
            .lines()
            .filter(|l| l.contains(needle))
            .map(String::from)
            .collect()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            eprintln!(
                "killed controller pid {} at the end of the test",
                self.pid()
            );
        }
        let _ = self.child.wait();
    }
}
