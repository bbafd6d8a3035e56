//! Messages that reach status fields and Events are cut to `consts::MAX_MESSAGE_BYTES`: Hive writes whole error
//! strings, and a managed cluster or a syncset author controls much of their text. A ClusterSync whose status grows
//! past etcd's object limit could never be written again, so every entry of that cluster would stay stale.

use crate::consts::MAX_MESSAGE_BYTES;

/// `message`, or its beginning and its end (where an error's cause usually is) within `MAX_MESSAGE_BYTES`, with a
/// note in the middle saying how much was cut.
pub fn cap(message: String) -> String {
    cap_at(message, MAX_MESSAGE_BYTES)
}

pub fn cap_at(message: String, max: usize) -> String {
    if message.len() <= max {
        return message;
    }
    let total = message.len();
    let head_end = floor_boundary(&message, max / 3);
    let tail_start = ceil_boundary(&message, total - (max - max / 3));
    format!(
        "{} … (message cut: {} of {total} bytes left out) … {}",
        &message[..head_end],
        tail_start - head_end,
        &message[tail_start..]
    )
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_are_kept_and_long_ones_keep_their_ends_and_say_what_was_cut() {
        assert_eq!(cap("failed".into()), "failed");
        let long = format!("{}: the cause", "é".repeat(MAX_MESSAGE_BYTES));
        let cut = cap(long.clone());
        assert!(cut.len() < MAX_MESSAGE_BYTES + 64, "{}", cut.len());
        assert!(cut.ends_with("é: the cause"), "{cut}");
        assert!(
            cut.contains(&format!("of {} bytes left out", long.len())),
            "{cut}"
        );
        assert_eq!(
            cap_at("abcdefghij".into(), 6),
            "ab … (message cut: 4 of 10 bytes left out) … ghij"
        );
    }
}
