//! What the report commands (`status`, `render`, `diff`) share in their output: exit codes and styling (anstyle's
//! styles, anstream's decision whether standard output takes colour).

/// Exit codes of the report commands (as `kubectl diff`): 0 all good / no changes, 1 something to look at, 2 error.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;

/// Whether output is coloured: as anstream decides for standard output (a terminal, `NO_COLOR` unset or empty,
/// `CLICOLOR=0` not set, `TERM` not `dumb`; `CLICOLOR_FORCE` forces it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
}

pub type Paint = anstyle::Style;

pub const NONE: Paint = anstyle::Style::new();
pub const RED: Paint = anstyle::AnsiColor::Red.on_default();
pub const GREEN: Paint = anstyle::AnsiColor::Green.on_default();
pub const YELLOW: Paint = anstyle::AnsiColor::Yellow.on_default();
pub const CYAN: Paint = anstyle::AnsiColor::Cyan.on_default();
pub const BOLD: Paint = anstyle::Style::new().bold();

impl Style {
    pub fn detect() -> Self {
        Self {
            colour: anstream::AutoStream::choice(&std::io::stdout())
                != anstream::ColorChoice::Never,
        }
    }

    pub const PLAIN: Self = Self { colour: false };

    pub fn paint(self, text: &str, paint: Paint) -> String {
        if self.colour && paint != NONE && !text.is_empty() {
            format!("{paint}{text}{paint:#}")
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
        assert_eq!(colour.paint("x", NONE), "x", "no colour code");
        assert_eq!(colour.paint("x", BOLD), "\u{1b}[1mx\u{1b}[0m");
        assert_eq!(colour.paint("", BOLD), "");
    }
}
