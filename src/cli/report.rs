//! What the report commands (`status`, `render`, `diff`) share in their output: exit codes and ANSI styling.

use std::io::IsTerminal as _;

/// Exit codes of the report commands (as `kubectl diff`): 0 all good / no changes, 1 something to look at, 2 error.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;

/// ANSI colours, only when standard output is a terminal and `NO_COLOR` is unset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
}

pub const RED: &str = "31";
pub const GREEN: &str = "32";
pub const YELLOW: &str = "33";
pub const CYAN: &str = "36";
pub const BOLD: &str = "1";

impl Style {
    pub fn detect() -> Self {
        Self {
            colour: std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    pub const PLAIN: Self = Self { colour: false };

    pub fn paint(self, text: &str, code: &str) -> String {
        if self.colour && !code.is_empty() && !text.is_empty() {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_colours_only_when_asked_and_only_non_empty_text() {
        assert_eq!(Style::PLAIN.paint("x", RED), "x");
        let colour = Style { colour: true };
        assert_eq!(colour.paint("x", RED), "\u{1b}[31mx\u{1b}[0m");
        assert_eq!(colour.paint("x", ""), "x", "no colour code");
        assert_eq!(colour.paint("", BOLD), "");
    }
}
