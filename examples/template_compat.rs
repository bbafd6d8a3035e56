//! hivesync's side of the Go `text/template` comparison (hack/template-compat/compare.sh): reads the cases of
//! `templatecompat gen` (JSON lines: a template and the cluster's labels) on stdin and writes, per case, what
//! hivesync's engine (`plan::template::render`) says, in the shape `templatecompat run` writes Go's answer:
//! `{"output": ...}`, `{"parse_error": ...}` or `{"exec_error": ...}`.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};

use hivesync::plan::template::{render, TemplateError};

#[derive(serde::Deserialize)]
struct Case {
    template: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

fn main() -> anyhow::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        let case: Case = serde_json::from_str(&line?)?;
        let answer = match render(&case.template, &case.labels) {
            Ok(output) => serde_json::json!({ "output": output }),
            Err(TemplateError::Parse(m)) => serde_json::json!({ "parse_error": m }),
            Err(TemplateError::Exec(m)) => serde_json::json!({ "exec_error": m }),
        };
        serde_json::to_writer(&mut out, &answer)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
