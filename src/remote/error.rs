//! The remote layer's one error: why a call to a managed cluster failed, or why there is no client to call it with.
//! The controller wraps it (`controller::execute::ExecError`, which adds the hub Secret read of a secret mapping) and
//! the plan records its message (`plan::run::OpError`).

use std::fmt;

/// What failed. Each cause has the label logs say it with ([`RemoteError::kind`]); the callers decide on it: an
/// unreachable cluster stops its sync and is probed, a timeout asks the cluster whether it still answers first, a
/// `Hub` failure is retried without recording anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The cluster did not answer (a connection-level failure), as opposed to answering with an error.
    Unreachable,
    /// The call ran out of time. That alone does not say the cluster is gone (a slow admission webhook, a large
    /// object): the caller asks the cluster whether it still answers before treating it as unreachable.
    Timeout,
    /// The cluster answered with an error (or with a body too large to read), or the call was refused before it was
    /// sent (a patch that does not parse, a namespaced object without a namespace): this operation failed, not the
    /// cluster.
    Api,
    /// Discovery: the cluster answered that it does not serve the kind (its group-version is absent, or lacks the
    /// kind). The one answer that lets a delete count as done; otherwise a failure like `Api`.
    NotServed,
    /// There is no client: the kubeconfig Secret is missing, its kubeconfig is unusable or refused, or
    /// `apiServerIPOverride` is not an IP address. Bad input, said on every syncset entry; the client pool keeps it
    /// until the Secret or the endpoint changes.
    Config,
    /// There is no client because the hub did not answer for the kubeconfig Secret: nothing is known about the
    /// cluster, so the caller retries instead of recording a failure, and the pool does not keep it.
    Hub,
}

impl Cause {
    /// The log field value (and metric label, should one count failures) for this cause.
    pub fn label(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::Api => "api",
            Self::NotServed => "not-served",
            Self::Config => "config",
            Self::Hub => "hub",
        }
    }
}

/// A failed call to a managed cluster, or a missing client for one. `message` is what the ClusterSync status, the
/// `Unreachable` condition or an Event says (Hive's words where Hive has some), cut to `MAX_MESSAGE_BYTES` where the
/// cluster wrote it; `Display` is the message alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    pub cause: Cause,
    pub message: String,
}

impl RemoteError {
    pub fn new(cause: Cause, message: impl Into<String>) -> Self {
        Self {
            cause,
            message: message.into(),
        }
    }

    /// An error answer, or a call refused before it was sent.
    pub fn api(message: impl Into<String>) -> Self {
        Self::new(Cause::Api, message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(Cause::Timeout, message)
    }

    /// No client: the cluster's kubeconfig or endpoint cannot be used.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Cause::Config, message)
    }

    /// A failed request, described as `describe_error` does (the API server's message for API errors, else the
    /// error with its causes); unreachable when the cluster did not answer at all.
    pub fn from_kube(e: &kube::Error) -> Self {
        let cause = if super::ops::is_connection_error(e) {
            Cause::Unreachable
        } else {
            Cause::Api
        };
        Self::new(cause, super::ops::describe_error(e))
    }

    /// The label this error is logged with: `unreachable`, `timeout`, `api`, `not-served`, `config` or `hub`.
    pub fn kind(&self) -> &'static str {
        self.cause.label()
    }

    /// The same error with `context: ` before its message (`could not delete resource: ...`).
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self {
            message: format!("{context}: {}", self.message),
            ..self
        }
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RemoteError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_displays_its_message_and_logs_its_cause_s_label() {
        let e = RemoteError::api("forbidden").context("could not delete resource");
        assert_eq!(e.to_string(), "could not delete resource: forbidden");
        assert_eq!(e.kind(), "api");
        assert_eq!(RemoteError::timeout("slow").kind(), "timeout");
        assert_eq!(RemoteError::new(Cause::NotServed, "x").kind(), "not-served");
        assert_eq!(RemoteError::config("bad kubeconfig").kind(), "config");
    }

    #[test]
    fn a_refused_connection_is_unreachable_and_an_api_answer_is_not() {
        let refused = kube::Error::Service(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        assert_eq!(RemoteError::from_kube(&refused).cause, Cause::Unreachable);
        let forbidden = kube::Error::Api(
            kube::core::Status::failure("nope", "Forbidden")
                .with_code(403)
                .boxed(),
        );
        let e = RemoteError::from_kube(&forbidden);
        assert_eq!((e.cause, e.message.as_str()), (Cause::Api, "nope"));
    }
}
