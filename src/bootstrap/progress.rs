//! Progress of a bootstrap: one line per stage on stderr — `✓` done, `↷` cached, `✗` failed with
//! the reason — with elapsed time; detail lines only with `-v`. Nothing here ever formats a
//! secret: stages report what they do in their own words, and those words are redacted at the
//! source.

use std::io::{IsTerminal, Write};
use std::time::Duration;

/// How a stage ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageStatus {
    Done,
    Cached,
    Failed(String),
}

/// Where progress goes.
pub trait Progress: Send + Sync {
    /// A stage starts (a live line on a terminal; nothing in plain mode).
    fn start(&self, stage: &str, what: &str);
    /// A detail while a stage runs (`-v`).
    fn detail(&self, stage: &str, message: &str);
    /// Something the user must see even without `-v` (the stage goes on).
    fn warn(&self, stage: &str, message: &str) {
        let _ = writeln!(std::io::stderr(), "warning: {stage}: {message}");
    }
    /// A stage ended.
    fn finish(&self, stage: &str, status: &StageStatus, elapsed: Duration);
}

/// Plain lines on stderr: CI logs and terminals alike.
#[derive(Debug, Clone, Copy)]
pub struct LineProgress {
    pub verbose: bool,
    /// Show a `…` line when a stage starts (terminals), so long waits are visibly alive.
    pub show_start: bool,
}

impl LineProgress {
    pub fn new(verbose: bool) -> Self {
        LineProgress {
            verbose,
            show_start: std::io::stderr().is_terminal(),
        }
    }
}

/// `12.3s`, `2m05s`.
pub fn format_elapsed(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// The line for a finished stage.
pub fn finish_line(stage: &str, status: &StageStatus, elapsed: Duration) -> String {
    match status {
        StageStatus::Done => format!("✓ {stage} ({})", format_elapsed(elapsed)),
        StageStatus::Cached => format!("↷ {stage} (done in an earlier run)"),
        StageStatus::Failed(why) => format!("✗ {stage} ({}): {why}", format_elapsed(elapsed)),
    }
}

impl Progress for LineProgress {
    fn start(&self, stage: &str, what: &str) {
        if self.show_start {
            let _ = writeln!(std::io::stderr(), "… {stage}: {what}");
        }
    }

    fn detail(&self, stage: &str, message: &str) {
        if self.verbose {
            let _ = writeln!(std::io::stderr(), "  {stage}: {message}");
        }
    }

    fn finish(&self, stage: &str, status: &StageStatus, elapsed: Duration) {
        let _ = writeln!(std::io::stderr(), "{}", finish_line(stage, status, elapsed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_what_happened() {
        let d = Duration::from_millis(12_340);
        assert_eq!(
            finish_line("render", &StageStatus::Done, d),
            "✓ render (12.3s)"
        );
        assert_eq!(
            finish_line("render", &StageStatus::Cached, d),
            "↷ render (done in an earlier run)"
        );
        assert_eq!(
            finish_line(
                "wait-node",
                &StageStatus::Failed("timed out".into()),
                Duration::from_secs(125)
            ),
            "✗ wait-node (2m05s): timed out"
        );
    }
}
