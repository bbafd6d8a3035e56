//! hivesync's side of hack/yaml-compat: reads `{"text": ...}` lines and writes, per line, the JSON a patch body is
//! sent as (`{"output": ...}`) or why it cannot be (`{"error": ...}`), as `plan::yaml_v2::to_json` reads it.

use std::io::{BufRead, Write};

fn main() -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let case: serde_json::Value = serde_json::from_str(&line?)?;
        let text = case["text"].as_str().unwrap_or_default();
        let result = match hivesync::plan::yaml_v2::to_json(text) {
            Ok(v) => serde_json::json!({ "output": v.to_string() }),
            Err(e) => serde_json::json!({ "error": e }),
        };
        writeln!(out, "{result}")?;
    }
    Ok(())
}
