//! The shared state of stderr: whether progress bars and colours show, and
//! the one writer every thread goes through, so that a message or a log
//! line never cuts a progress bar in half.

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};

use indicatif::{MultiProgress, ProgressDrawTarget};

/// When to colour the messages on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// When stderr is a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// Kinds of message prefix, each with its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Error,
    Warning,
    Rejected,
    Hint,
    CausedBy,
}

impl Prefix {
    fn label(self) -> &'static str {
        match self {
            Self::Error => "error:",
            Self::Warning => "warning:",
            Self::Rejected => "rejected:",
            Self::Hint => "hint:",
            Self::CausedBy => "caused by:",
        }
    }

    /// SGR parameters: bold red, yellow, yellow, cyan, dim.
    fn style(self) -> &'static str {
        match self {
            Self::Error => "1;31",
            Self::Warning | Self::Rejected => "33",
            Self::Hint => "36",
            Self::CausedBy => "2",
        }
    }
}

/// The shared state of stderr: one per process, used by every reporter.
pub struct Terminal {
    /// Set while progress bars may be drawn.
    bars: Option<MultiProgress>,
    color: bool,
}

impl Terminal {
    /// Decides from the flags and the environment. Bars need a terminal on
    /// stderr; colours need one too, unless `--color always`.
    pub fn new(color: ColorChoice, show_bars: bool) -> Self {
        let is_terminal = io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|term| term == "dumb");
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && !no_color && !dumb,
        };
        let bars = (show_bars && is_terminal && !dumb)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self { bars, color }
    }

    /// Returns a terminal that draws no bar and writes plain text, for
    /// tests and for programs that embed the library.
    pub fn plain() -> Self {
        Self {
            bars: None,
            color: false,
        }
    }

    /// Returns the bars' container, when bars show.
    pub fn bars(&self) -> Option<&MultiProgress> {
        self.bars.as_ref()
    }

    /// Writes to stderr, lifting the progress bars out of the way first.
    pub fn write(&self, bytes: &[u8]) {
        let write = || {
            let mut stderr = io::stderr().lock();
            let _ = stderr.write_all(bytes);
            let _ = stderr.flush();
        };
        match &self.bars {
            Some(bars) => bars.suspend(write),
            None => write(),
        }
    }

    /// Returns a prefix, coloured when colours are on.
    pub fn prefix(&self, prefix: Prefix) -> Cow<'static, str> {
        if self.color {
            Cow::Owned(format!("\x1b[{}m{}\x1b[0m", prefix.style(), prefix.label()))
        } else {
            Cow::Borrowed(prefix.label())
        }
    }

    pub fn color(&self) -> bool {
        self.color
    }
}

/// Escapes what could move a terminal's cursor or reorder its text:
/// control characters other than newline and tab, and the Unicode
/// direction overrides. Text read from a CRM's file passes through here
/// before it reaches stderr.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            escaped.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_plain_text_and_escapes_controls() {
        assert!(matches!(escape_controls("Maison à Lyon\n"), Cow::Borrowed(_)));
        assert_eq!(escape_controls("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape_controls("x\ry"), "x\\u{d}y");
        assert_eq!(escape_controls("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn plain_terminal_writes_uncoloured_prefixes() {
        assert_eq!(Terminal::plain().prefix(Prefix::Hint), "hint:");
    }
}
