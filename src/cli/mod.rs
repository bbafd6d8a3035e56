//! Subcommands. Each one destructures its arguments so an unused flag fails to compile.

pub mod adopt;
pub mod controller;
pub mod crdgen;
pub mod diff;
pub mod hub;
pub mod render;
pub mod report;
pub mod rollout;
pub mod status;

use clap::{Parser, Subcommand};

/// `hivesync --version`: the crate's version and the commit it was built from (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("HIVESYNC_COMMIT"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "hivesync",
    version = VERSION,
    about = "Hive-compatible multi-cluster sync controller"
)]
pub struct Cli {
    /// Log format on stderr: `text`, or `json` (one JSON object a line).
    #[arg(long, global = true, env = "HIVESYNC_LOG_FORMAT", value_enum, ignore_case = true, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The command line as clap reads it, named after how the binary was called: installed as `kubectl-hivesync` (a
/// kubectl plugin), kubectl runs it for `kubectl hivesync ...` and its help and completions say so.
pub fn command() -> clap::Command {
    use clap::CommandFactory as _;
    let called = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let cmd = Cli::command();
    match plugin_name(&called) {
        Some(name) => cmd.bin_name(name),
        None => cmd,
    }
}

/// `kubectl hivesync` for a binary called `kubectl-hivesync` (kubectl's plugin naming: dashes become spaces).
fn plugin_name(called: &str) -> Option<String> {
    called
        .strip_prefix("kubectl-")
        .map(|rest| format!("kubectl {}", rest.replace('-', " ")))
}

/// Parses the process's arguments (see [`command`]); on an error, clap prints it and exits 2.
pub fn parse() -> Cli {
    use clap::FromArgMatches as _;
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the controller against a hub.
    Controller(controller::Args),
    /// Register an existing cluster with the hub, as `hiveutil create-cluster --adopt` does.
    Adopt(adopt::Args),
    /// Write the CRD YAML generated from the API types.
    Crdgen(crdgen::Args),
    /// Show every cluster's sync state, or one cluster's SyncSets (exit 1 when something fails or is unreachable).
    Status(status::Args),
    /// Print what hivesync would send to a cluster now, as YAML (Secret data redacted).
    Render(render::Args),
    /// Preview a sync with a server-side dry run against the cluster (exit 1 when something would change).
    Diff(diff::Args),
    /// Progressive rollouts: `status`, `pause`, `resume`, `promote`, `abort` of a syncset's rollout.
    Rollout(rollout::Args),
    /// Print a shell completion script: `source <(hivesync completion bash)`.
    Completion(CompletionArgs),
}

#[derive(clap::Args, Debug)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Controller(args) => controller::run(args).await,
        Command::Adopt(args) => adopt::run(args).await,
        Command::Crdgen(args) => crdgen::run(args),
        Command::Status(args) => exit(status::run(args).await),
        Command::Render(args) => exit(render::run(args).await),
        Command::Diff(args) => exit(diff::run(args).await),
        Command::Rollout(args) => exit(rollout::run(args).await),
        Command::Completion(CompletionArgs { shell }) => {
            // Completions name the executable the shell runs: `kubectl-hivesync` for the plugin ("kubectl hivesync"
            // is no command name a shell completes).
            let mut cmd = command();
            let name = cmd
                .get_bin_name()
                .unwrap_or_else(|| cmd.get_name())
                .replace(' ', "-");
            clap_complete::generate(shell, &mut cmd, name, &mut std::io::stdout());
            Ok(())
        }
    }
}

/// Ends a report command with its exit code: 0 all good, 1 something to look at, 2 an error (printed with what to do).
fn exit(result: anyhow::Result<u8>) -> ! {
    use std::io::Write as _;
    let code = result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        2
    });
    let _ = std::io::stdout().flush();
    std::process::exit(code.into())
}

/// Logs go to stderr; `RUST_LOG` filters (default `info`), `--log-format json` (`HIVESYNC_LOG_FORMAT=json`) for JSON
/// lines.
pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,kube_client::client::builder=off"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == LogFormat::Json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn as_a_kubectl_plugin_the_binary_calls_itself_kubectl_hivesync() {
        assert_eq!(
            plugin_name("kubectl-hivesync").as_deref(),
            Some("kubectl hivesync")
        );
        assert_eq!(plugin_name("hivesync"), None);
        let mut cmd = Cli::command().bin_name("kubectl hivesync");
        let help = cmd.render_help().to_string();
        assert!(help.contains("Usage: kubectl hivesync"), "{help}");
    }

    #[test]
    fn every_command_takes_kubectl_s_hub_flags() {
        for args in [
            &[
                "hivesync",
                "status",
                "--context",
                "hub",
                "--kubeconfig",
                "hub.yaml",
            ][..],
            &[
                "hivesync",
                "render",
                "c",
                "--context",
                "hub",
                "--kubeconfig",
                "hub.yaml",
            ],
            &[
                "hivesync",
                "diff",
                "c",
                "--context",
                "hub",
                "--kubeconfig",
                "hub.yaml",
            ],
            &[
                "hivesync",
                "controller",
                "--context",
                "hub",
                "--kubeconfig",
                "hub.yaml",
            ],
            &[
                "hivesync",
                "adopt",
                "c",
                "--cluster-kubeconfig",
                "c.yaml",
                "--context",
                "hub",
                "--kubeconfig",
                "hub.yaml",
            ],
        ] {
            let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let hub = match cli.command {
                Command::Status(a) => a.hub,
                Command::Render(a) => a.hub,
                Command::Diff(a) => a.hub,
                Command::Controller(a) => a.hub,
                Command::Adopt(a) => {
                    assert_eq!(a.cluster_kubeconfig, std::path::Path::new("c.yaml"));
                    a.hub
                }
                other => panic!("{other:?}"),
            };
            assert_eq!(hub.context.as_deref(), Some("hub"), "{args:?}");
            assert_eq!(
                hub.kubeconfig.as_deref(),
                Some(std::path::Path::new("hub.yaml")),
                "{args:?}"
            );
        }
        // adopt's managed cluster is --cluster-kubeconfig; the old --hub-kubeconfig still names the hub.
        let cli = Cli::try_parse_from([
            "hivesync",
            "adopt",
            "c",
            "--cluster-kubeconfig",
            "c.yaml",
            "--hub-kubeconfig",
            "hub.yaml",
        ])
        .unwrap();
        let Command::Adopt(a) = cli.command else {
            panic!()
        };
        assert_eq!(
            a.hub.kubeconfig.as_deref(),
            Some(std::path::Path::new("hub.yaml"))
        );
    }

    #[test]
    fn status_takes_kubectl_s_output_formats_and_a_label_selector() {
        for o in ["yaml", "json", "wide", "name"] {
            Cli::try_parse_from(["hivesync", "status", "-o", o, "-l", "env=prod"])
                .unwrap_or_else(|e| panic!("-o {o}: {e}"));
        }
        let cli = Cli::try_parse_from([
            "hivesync",
            "status",
            "--syncset",
            "cso-test",
            "-l",
            "a in (b)",
        ])
        .unwrap();
        let Command::Status(a) = cli.command else {
            panic!()
        };
        assert_eq!(a.syncset.as_deref(), Some("cso-test"));
        assert_eq!(a.selector.as_deref(), Some("a in (b)"));
    }

    #[test]
    fn completion_scripts_are_generated_for_bash_zsh_and_fish() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hivesync", &mut out);
            let script = String::from_utf8(out).unwrap();
            assert!(script.contains("syncset"), "{shell}: {script}");
            assert!(script.contains("cluster-kubeconfig"), "{shell}: {script}");
            assert!(script.contains("completion"), "{shell}");
        }
    }

    #[test]
    fn the_log_format_comes_from_its_flag_or_its_environment_variable() {
        let cli = Cli::try_parse_from(["hivesync", "crdgen", "--log-format", "json"]).unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        let cli = Cli::try_parse_from(["hivesync", "--log-format=text", "crdgen"]).unwrap();
        assert_eq!(cli.log_format, LogFormat::Text);
    }
}
