//! Go duration strings (`2h`, `1h30m`, `90s`, `500ms`), the format of Hive's `SYNCSET_REAPPLY_INTERVAL`.

use std::time::Duration;

/// The error is a `String`: clap prints it as the flag's error, and `plan::drift` puts it in its warning, as it is.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let err = || {
        format!(
            "invalid duration {s:?}: expected a Go duration such as 2h, 30m, 1h30m, 90s or 500ms"
        )
    };
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(err());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let value: f64 = rest[..n].parse().map_err(|_| err())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        total += value * unit;
        rest = &rest[u..];
    }
    // Go's limit: a time.Duration is an int64 of nanoseconds (about 2562047h). Beyond it Go refuses the string, and
    // here a larger value would later overflow `Instant + Duration` (a panic in a timer), so it is an error too.
    const GO_MAX_SECS: f64 = i64::MAX as f64 / 1e9;
    if !total.is_finite() || total > GO_MAX_SECS {
        return Err(format!(
            "duration {s:?} is out of range (Go durations end at 2562047h47m16.854775807s)"
        ));
    }
    Duration::try_from_secs_f64(total).map_err(|_| format!("duration {s:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enormous_duration_is_an_error_not_a_panic() {
        for huge in [
            "99999999999999999999h",
            "9999999999999h",
            "2562048h",
            "1e400h",
        ] {
            let e = parse_go_duration(huge).expect_err(huge);
            assert!(
                e.contains("out of range") || e.contains("invalid"),
                "{huge}: {e}"
            );
        }
        assert_eq!(
            parse_go_duration("9999999999999h"),
            Err("duration \"9999999999999h\" is out of range (Go durations end at 2562047h47m16.854775807s)".into())
        );
        // The largest Go accepts, and a deadline that far ahead does not overflow.
        let max = parse_go_duration("2562047h").unwrap();
        assert_eq!(max, Duration::from_secs(2562047 * 3600));
        assert!(std::time::Instant::now().checked_add(max).is_some());
        let _ = tokio::time::Instant::now() + max;
    }

    #[test]
    fn go_durations_with_units_parse_and_empty_unitless_or_worded_ones_do_not() {
        assert_eq!(parse_go_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(
            parse_go_duration("1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            parse_go_duration("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert!(parse_go_duration("2 hours").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("10").is_err());
    }
}
