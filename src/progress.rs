//! Progress of long work — a bootstrap's stages, a deploy's apply and waits — told to one
//! [`Progress`] trait, so a deploy can run inside a bootstrap stage and report through the same
//! sink. The library says what happens; the caller decides how it looks ([`LineProgress`]: plain
//! lines on stderr; the deploy command: a spinner on a terminal). Nothing here ever formats a
//! secret: callers report in their own words, and those words are redacted at the source.
//!
//! Durations are shown one way everywhere: [`format_duration`].

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageStatus {
    Done,
    Cached,
    Failed(String),
}

/// Where progress goes. `step` names the unit of work (a bootstrap stage such as
/// `talos-apply/cp01`, or a deploy phase such as `apply`). Every method has a silent default, so
/// a sink implements only what it shows.
pub trait Progress: Send + Sync {
    /// A step starts; `what` says what it does.
    fn start(&self, _step: &str, _what: &str) {}
    /// What the step waits for right now; replaces the previous status (a spinner's message).
    fn status(&self, _step: &str, _message: &str) {}
    /// One thing inside the step completed (an object applied, a wait satisfied).
    fn done(&self, _step: &str, _message: &str) {}
    /// A detail for `-v`.
    fn detail(&self, _step: &str, _message: &str) {}
    /// Something the user must see even without `-v` (the step goes on).
    fn warn(&self, _step: &str, _message: &str) {}
    /// A step ended.
    fn finish(&self, _step: &str, _status: &StageStatus, _elapsed: Duration) {}
}

/// Progress that goes nowhere.
pub struct Silent;
impl Progress for Silent {}

/// `250ms`, `12.3s`, `45s`, `1m30s`, `5m`, `1h2m`: how every duration is shown (elapsed times,
/// timeouts, waits).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        let tenths = ms / 100;
        return if tenths.is_multiple_of(10) {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        };
    }
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m, s) {
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// The line for a finished step.
pub fn finish_line(step: &str, status: &StageStatus, elapsed: Duration) -> String {
    match status {
        StageStatus::Done => format!("✓ {step} ({})", format_duration(elapsed)),
        StageStatus::Cached => format!("↷ {step} (done in an earlier run)"),
        StageStatus::Failed(why) => format!("✗ {step} ({}): {why}", format_duration(elapsed)),
    }
}

/// Plain lines on stderr, for CI logs and terminals alike: one line per finished step; details,
/// completed items and changes of status only with `-v`; warnings always.
#[derive(Debug)]
pub struct LineProgress {
    pub verbose: bool,
    /// Show a `…` line when a step starts (terminals), so long waits are visibly alive.
    pub show_start: bool,
    /// The last status printed, so a status that says nothing new stays silent.
    last_status: Mutex<String>,
}

impl LineProgress {
    pub fn new(verbose: bool) -> Self {
        LineProgress {
            verbose,
            show_start: std::io::stderr().is_terminal(),
            last_status: Mutex::new(String::new()),
        }
    }

    fn line(&self, text: &str) {
        let _ = writeln!(std::io::stderr(), "{text}");
    }
}

impl Progress for LineProgress {
    fn start(&self, step: &str, what: &str) {
        if self.show_start {
            self.line(&format!("… {step}: {what}"));
        }
    }

    fn status(&self, step: &str, message: &str) {
        let mut last = self.last_status.lock().unwrap_or_else(|e| e.into_inner());
        if self.verbose && *last != message {
            message.clone_into(&mut last);
            self.line(&format!("  {step}: {message}"));
        }
    }

    fn done(&self, step: &str, message: &str) {
        self.detail(step, message);
    }

    fn detail(&self, step: &str, message: &str) {
        if self.verbose {
            self.line(&format!("  {step}: {message}"));
        }
    }

    fn warn(&self, step: &str, message: &str) {
        self.line(&format!("warning: {step}: {message}"));
    }

    fn finish(&self, step: &str, status: &StageStatus, elapsed: Duration) {
        self.line(&finish_line(step, status, elapsed));
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
            "✗ wait-node (2m5s): timed out"
        );
    }

    #[test]
    fn durations_read_the_same_everywhere() {
        for (d, shown) in [
            (Duration::from_millis(0), "0ms"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(999), "999ms"),
            (Duration::from_millis(1000), "1s"),
            (Duration::from_millis(12_340), "12.3s"),
            (Duration::from_millis(59_990), "59.9s"),
            (Duration::from_secs(45), "45s"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(3600), "1h"),
            (Duration::from_secs(3725), "1h2m"),
        ] {
            assert_eq!(format_duration(d), shown, "{d:?}");
        }
    }
}
