//! Messages that reach status fields and Events are cut to `consts::MAX_MESSAGE_BYTES`: Hive writes whole error
//! strings, and a managed cluster or a syncset author controls much of their text. A ClusterSync whose status grows
//! past etcd's object limit could never be written again, so every entry of that cluster would stay stale.

use crate::consts::MAX_MESSAGE_BYTES;

/// `message`, or its first `MAX_MESSAGE_BYTES` (at a character boundary) and a note saying how long it was.
pub fn cap(message: String) -> String {
    cap_at(message, MAX_MESSAGE_BYTES)
}

pub fn cap_at(mut message: String, max: usize) -> String {
    if message.len() <= max {
        return message;
    }
    let total = message.len();
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(&format!("… (message cut: {total} bytes)"));
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_are_kept_and_long_ones_say_they_were_cut() {
        assert_eq!(cap("failed".into()), "failed");
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = cap(long);
        assert!(cut.len() < MAX_MESSAGE_BYTES + 40, "{}", cut.len());
        assert!(
            cut.ends_with(&format!("… (message cut: {} bytes)", 2 * MAX_MESSAGE_BYTES)),
            "{cut}"
        );
        assert_eq!(cap_at("abcdef".into(), 3), "abc… (message cut: 6 bytes)");
    }
}
