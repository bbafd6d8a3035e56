//! The reachability state machine (docs/hive-compatibility.md, "Reachability"), pure: what to probe, and which `Unreachable` and
//! `ActiveAPIURLOverride` conditions follow from the results. The probe loop does the I/O and the writes.
//!
//! hivesync probes on its own schedule (seconds, not Hive's 2 h), so "recheck due" here means the secondary (the
//! kubeconfig's server) may be probed again after the override failed; Hive probes it at most every 2 h.
//!
//! A probe's failure comes in as its message (`Result<(), String>`): the conditions carry it (scrubbed for
//! `Unreachable`, as it is for `ActiveAPIURLOverride`), and nothing here depends on why the probe failed.

use std::time::Duration;

use crate::api::ClusterDeploymentCondition;

pub use super::conditions::UNREACHABLE;
pub const ACTIVE_API_URL_OVERRIDE: &str = "ActiveAPIURLOverride";
pub const REASON_INITIALIZED: &str = "Initialized";
pub const MESSAGE_INITIALIZED: &str = "Condition Initialized";
pub const REASON_REACHABLE: &str = "ClusterReachable";
pub const MESSAGE_REACHABLE: &str = "cluster is reachable";
pub const REASON_UNREACHABLE: &str = "ErrorConnectingToCluster";

/// (status, reason, message) of one condition.
pub type Value = (&'static str, &'static str, String);

/// How long until the next probe tick, ticks being `interval` apart from the prober's start (never zero, at most
/// `interval`). Healthy clusters are probed together on these ticks rather than each on its own phase: a probe's own
/// work is small, and what an idle controller spent was mostly waking its threads for each of 100 probes a second
/// (perf, 1000 clusters: 3.9 % of a core spread, 1.5 % on ticks); a burst wakes them once.
pub fn until_next_tick(elapsed: Duration, interval: Duration) -> Duration {
    let interval_ns = interval.as_nanos().max(1);
    let left = interval_ns - elapsed.as_nanos() % interval_ns;
    Duration::from_nanos(u64::try_from(left).unwrap_or(u64::MAX))
}

/// What the conditions say before a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observed {
    /// `spec.controlPlaneConfig.apiURLOverride` is set.
    pub has_override: bool,
    /// `Unreachable` is missing, Unknown or True.
    pub was_unreachable: bool,
    /// No override, or `ActiveAPIURLOverride` is True.
    pub was_primary_active: bool,
    /// Long enough since the secondary was last tried.
    pub recheck_due: bool,
}

impl Observed {
    pub fn from_conditions(
        conditions: &[ClusterDeploymentCondition],
        has_override: bool,
        recheck_due: bool,
    ) -> Self {
        let status = |t: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == t)
                .map(|c| c.status.as_str())
        };
        Self {
            has_override,
            was_unreachable: status(UNREACHABLE) != Some("False"),
            was_primary_active: !has_override || status(ACTIVE_API_URL_OVERRIDE) == Some("True"),
            recheck_due,
        }
    }
}

/// The conditions to add to a ClusterDeployment that lacks them, before anything else: both `ActiveAPIURLOverride`
/// and `Unreachable`, on every ClusterDeployment that is not `reconcile-pause`d (installed or not, being deleted or
/// not, with an override or not), as Hive's unreachable controller does. Without an override `ActiveAPIURLOverride`
/// then stays Unknown: nothing else writes it.
pub fn initial_conditions(conditions: &[ClusterDeploymentCondition]) -> Vec<(&'static str, Value)> {
    [ACTIVE_API_URL_OVERRIDE, UNREACHABLE]
        .into_iter()
        .filter(|t| !conditions.iter().any(|c| c.type_ == *t))
        .map(|t| {
            (
                t,
                (
                    "Unknown",
                    REASON_INITIALIZED,
                    MESSAGE_INITIALIZED.to_string(),
                ),
            )
        })
        .collect()
}

/// After probing the primary URL (the override when set, else the kubeconfig's server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterPrimary {
    Done(Verdict),
    /// Probe the kubeconfig's server, then call `after_secondary`.
    ProbeSecondary,
}

/// The conditions to write (None: leave that condition alone) and whether to retry soon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub unreachable: Option<Value>,
    pub active_override: Option<Value>,
    pub retry_soon: bool,
}

fn reachable() -> Value {
    ("False", REASON_REACHABLE, MESSAGE_REACHABLE.to_string())
}

pub fn after_primary(o: Observed, primary: Result<(), String>) -> AfterPrimary {
    match primary {
        Ok(()) => AfterPrimary::Done(Verdict {
            unreachable: Some(reachable()),
            active_override: o
                .has_override
                .then(|| ("True", REASON_REACHABLE, MESSAGE_REACHABLE.to_string())),
            retry_soon: false,
        }),
        Err(_)
            if o.has_override && (o.recheck_due || o.was_primary_active || o.was_unreachable) =>
        {
            AfterPrimary::ProbeSecondary
        }
        // The secondary was tried recently: leave `Unreachable` as it is and retry the primary with backoff. As
        // Hive, the override's condition still follows the primary's error (rewritten when its text changes).
        Err(e) if o.has_override => AfterPrimary::Done(Verdict {
            unreachable: None,
            active_override: Some(("False", REASON_UNREACHABLE, e)),
            retry_soon: true,
        }),
        Err(e) => AfterPrimary::Done(Verdict {
            unreachable: Some(("True", REASON_UNREACHABLE, scrub(&e))),
            active_override: None,
            retry_soon: true,
        }),
    }
}

/// After the secondary was probed because the override failed. The override's error is kept raw in
/// `ActiveAPIURLOverride` (Hive does not scrub it).
pub fn after_secondary(primary_error: &str, secondary: Result<(), String>) -> Verdict {
    let override_inactive = Some(("False", REASON_UNREACHABLE, primary_error.to_string()));
    match secondary {
        Ok(()) => Verdict {
            unreachable: Some(reachable()),
            active_override: override_inactive,
            retry_soon: true,
        },
        Err(e) => Verdict {
            unreachable: Some((
                "True",
                REASON_UNREACHABLE,
                scrub(&super::aggregate(&[primary_error, e.as_str()]).unwrap_or_default()),
            )),
            active_override: override_inactive,
            retry_soon: true,
        },
    }
}

/// Hive's error scrub (`ErrorScrub`) for the Unreachable message, the parts that apply off AWS/Azure: newline-tab
/// runs become `, `, and the parts of a certificate error that change on every attempt are dropped, so that a
/// cluster with an expired certificate is written once rather than at every probe. Go says
/// `x509: certificate has expired or is not yet valid: current time X is after Y`, which Hive cuts to its text
/// before `: current time`; rustls says `certificate expired: verification time <now> (UNIX), but certificate is not
/// valid after <t> (<n> seconds ago)` (and likewise `not valid yet` and an expired CRL), cut here to its text before
/// `: verification time`.
pub fn scrub(message: &str) -> String {
    let message = message.replace("\n\t", ", ").replace('\n', ", ");
    let message = strip_rustls_time_context(&message);
    super::message::cap(strip_go_time_context(&message))
}

/// Removes every `: verification time <digits> (UNIX), but ... (<digits> seconds ago|in future)`.
fn strip_rustls_time_context(message: &str) -> String {
    const START: &str = ": verification time ";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(START) {
        let after = &rest[at + START.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let tail = &after[digits..];
        let end = (digits > 0 && tail.starts_with(" (UNIX), but "))
            .then(|| {
                [" seconds ago)", " seconds in future)"]
                    .iter()
                    .filter_map(|e| tail.find(e).map(|i| i + e.len()))
                    .min()
            })
            .flatten();
        match end {
            Some(end) => {
                out.push_str(&rest[..at]);
                rest = &tail[end..];
            }
            None => {
                out.push_str(&rest[..at + START.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Go's `: current time \S+ is after \S+` (what Hive's `certificateTimeErrorRE` removes), every occurrence.
fn strip_go_time_context(message: &str) -> String {
    const START: &str = ": current time ";
    const MIDDLE: &str = " is after ";
    let word = |s: &str| s.find(char::is_whitespace).unwrap_or(s.len());
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(START) {
        let after = &rest[at + START.len()..];
        let now = word(after);
        let matched = (now > 0 && after[now..].starts_with(MIDDLE))
            .then(|| {
                let then = &after[now + MIDDLE.len()..];
                let t = word(then);
                (t > 0).then(|| now + MIDDLE.len() + t)
            })
            .flatten();
        match matched {
            Some(len) => {
                out.push_str(&rest[..at]);
                rest = &after[len..];
            }
            None => {
                out.push_str(&rest[..at + START.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_probes_fall_on_shared_ticks() {
        let ten = Duration::from_secs(10);
        assert_eq!(until_next_tick(Duration::ZERO, ten), ten);
        assert_eq!(
            until_next_tick(Duration::from_millis(2_500), ten),
            Duration::from_millis(7_500)
        );
        assert_eq!(
            until_next_tick(Duration::from_millis(39_999), ten),
            Duration::from_millis(1)
        );
        // Two clusters probed at different moments of one interval meet on the same tick.
        let (a, b) = (Duration::from_millis(41_000), Duration::from_millis(48_700));
        assert_eq!(a + until_next_tick(a, ten), b + until_next_tick(b, ten));
        assert_eq!(
            until_next_tick(Duration::from_secs(3), Duration::ZERO),
            Duration::from_nanos(1)
        );
    }

    fn cond(t: &str, status: &str) -> ClusterDeploymentCondition {
        ClusterDeploymentCondition {
            type_: t.into(),
            status: status.into(),
            ..Default::default()
        }
    }

    fn observed(
        unreachable: Option<&str>,
        active: Option<&str>,
        has_override: bool,
        recheck_due: bool,
    ) -> Observed {
        let mut c = vec![];
        if let Some(s) = unreachable {
            c.push(cond(UNREACHABLE, s));
        }
        if let Some(s) = active {
            c.push(cond(ACTIVE_API_URL_OVERRIDE, s));
        }
        Observed::from_conditions(&c, has_override, recheck_due)
    }

    fn verdict(a: AfterPrimary) -> Verdict {
        match a {
            AfterPrimary::Done(v) => v,
            other => panic!("expected a verdict, got {other:?}"),
        }
    }

    // Hive's unreachable-controller unit test: missing conditions are initialised to Unknown before any probe.
    #[test]
    fn missing_conditions_are_initialised_to_unknown() {
        let init = initial_conditions(&[]);
        assert_eq!(
            init.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
            [ACTIVE_API_URL_OVERRIDE, UNREACHABLE],
            "both, with an override or not (Hive's \"initialize conditions\")"
        );
        assert!(init.iter().all(|(_, v)| *v
            == (
                "Unknown",
                "Initialized",
                "Condition Initialized".to_string()
            )));
        assert_eq!(
            initial_conditions(&[cond(UNREACHABLE, "False")]),
            [(
                ACTIVE_API_URL_OVERRIDE,
                (
                    "Unknown",
                    "Initialized",
                    "Condition Initialized".to_string()
                )
            )]
        );
        assert!(initial_conditions(&[
            cond(UNREACHABLE, "False"),
            cond(ACTIVE_API_URL_OVERRIDE, "True")
        ])
        .is_empty());
    }

    // Hive's unreachable-controller unit test: Unknown, True or an old False, and the probe fails → Unreachable True, retry.
    #[test]
    fn a_failed_probe_without_override_marks_the_cluster_unreachable() {
        for prior in [Some("Unknown"), Some("True"), Some("False"), None] {
            let v = verdict(after_primary(
                observed(prior, None, false, true),
                Err("dial tcp: connection refused\n\tmore".into()),
            ));
            assert_eq!(
                v.unreachable,
                Some((
                    "True",
                    REASON_UNREACHABLE,
                    "dial tcp: connection refused, more".into()
                ))
            );
            assert_eq!(v.active_override, None);
            assert!(v.retry_soon);
        }
    }

    // Hive's unreachable-controller unit test: a probe that succeeds from any prior state → False.
    #[test]
    fn a_successful_probe_marks_the_cluster_reachable_from_any_state() {
        for prior in [Some("Unknown"), Some("True"), Some("False"), None] {
            let v = verdict(after_primary(observed(prior, None, false, false), Ok(())));
            assert_eq!(
                v.unreachable,
                Some(("False", "ClusterReachable", "cluster is reachable".into()))
            );
            assert!(!v.retry_soon);
        }
    }

    // Hive's unreachable-controller unit test, with an override: primary OK → ActiveAPIURLOverride True.
    #[test]
    fn a_working_override_is_active() {
        let v = verdict(after_primary(
            observed(Some("Unknown"), Some("Unknown"), true, true),
            Ok(()),
        ));
        assert_eq!(
            v.active_override,
            Some(("True", "ClusterReachable", "cluster is reachable".into()))
        );
    }

    // Hive's unreachable-controller unit test: primary fails, secondary OK → reachable, override inactive with the raw error, retry the primary.
    #[test]
    fn a_failed_override_falls_back_to_the_kubeconfig_server() {
        let o = observed(Some("False"), Some("True"), true, false);
        assert_eq!(
            after_primary(o, Err("refused".into())),
            AfterPrimary::ProbeSecondary,
            "previously active primary"
        );
        let v = after_secondary("dial tcp 127.0.0.1:1: connect: connection refused", Ok(()));
        assert_eq!(
            v.unreachable,
            Some(("False", "ClusterReachable", "cluster is reachable".into()))
        );
        assert_eq!(
            v.active_override,
            Some((
                "False",
                "ErrorConnectingToCluster",
                "dial tcp 127.0.0.1:1: connect: connection refused".into()
            ))
        );
        assert!(v.retry_soon);
    }

    // Hive's unreachable-controller unit test: primary fails with a recent "reachable via secondary" → secondary not probed, Unreachable unchanged.
    #[test]
    fn a_recently_confirmed_secondary_is_not_probed_again() {
        let o = observed(Some("False"), Some("False"), true, false);
        assert_eq!(
            after_primary(o, Err("refused".into())),
            AfterPrimary::Done(Verdict {
                unreachable: None,
                active_override: Some(("False", "ErrorConnectingToCluster", "refused".into())),
                retry_soon: true,
            })
        );
        // An older probe time → the secondary is probed again.
        let o = observed(Some("False"), Some("False"), true, true);
        assert_eq!(
            after_primary(o, Err("refused".into())),
            AfterPrimary::ProbeSecondary
        );
    }

    #[test]
    fn both_urls_failing_aggregates_the_errors() {
        let v = after_secondary("a", Err("b".into()));
        assert_eq!(
            v.unreachable,
            Some(("True", REASON_UNREACHABLE, "[a, b]".into()))
        );
        assert_eq!(v.active_override.map(|a| a.0), Some("False"));
    }

    // The parts of a certificate error that change on every probe are scrubbed, so the message is stable.
    #[test]
    fn certificate_time_errors_scrub_to_the_same_message_at_every_probe() {
        let rustls = |now: u64, after: u64| {
            format!(
                "client error (Connect): invalid peer certificate: certificate expired: verification time {now} \
                 (UNIX), but certificate is not valid after {after} ({} seconds ago)",
                now - after
            )
        };
        let first = scrub(&rustls(1_800_000_000, 1_790_000_000));
        let later = scrub(&rustls(1_800_000_020, 1_790_000_000));
        assert_eq!(first, later);
        assert_eq!(
            first,
            "client error (Connect): invalid peer certificate: certificate expired"
        );
        let not_yet = |now: u64| {
            format!(
                "invalid peer certificate: certificate not valid yet: verification time {now} (UNIX), but \
                 certificate is not valid before 1900000000 ({} seconds in future)",
                1_900_000_000 - now
            )
        };
        assert_eq!(
            scrub(&not_yet(1_800_000_000)),
            scrub(&not_yet(1_800_000_020))
        );
        assert_eq!(
            scrub(&not_yet(1_800_000_000)),
            "invalid peer certificate: certificate not valid yet"
        );
        // Both URLs failing: each part of the aggregate is scrubbed.
        let both = super::super::aggregate(&[
            rustls(1_800_000_000, 1_790_000_000),
            rustls(1_800_000_001, 1_790_000_000),
        ])
        .unwrap();
        assert_eq!(
            scrub(&both),
            "[client error (Connect): invalid peer certificate: certificate expired, \
             client error (Connect): invalid peer certificate: certificate expired]"
        );
        // Go's form, as Hive's certificateTimeErrorRE strips it.
        assert_eq!(
            scrub(
                "Get \"https://a:6443/api\": x509: certificate has expired or is not yet valid: current time \
                 2026-01-02T03:04:05Z is after 2025-12-31T00:00:00Z"
            ),
            "Get \"https://a:6443/api\": x509: certificate has expired or is not yet valid"
        );
        // Anything else is left alone.
        for other in [
            "dial tcp 127.0.0.1:1: connect: connection refused",
            "odd: verification time soon (UNIX), but never",
            "odd: verification time 12 (UNIX), but no end",
            "odd: current time is after lunch",
        ] {
            assert_eq!(scrub(other), other);
        }
    }
}
