//! Diagnostics for bad input: one per problem, each naming the file, the position, the field and
//! what was expected. Loaders collect every problem they find before failing, so a user fixes
//! everything in one round trip instead of one error per run.

use std::fmt;
use std::path::PathBuf;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub const fn new(line: usize, col: usize) -> Self {
        Pos { line, col }
    }
}

/// One problem with one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// Unknown when the problem is about the file as a whole (missing, unreadable).
    pub pos: Option<Pos>,
    /// Dotted path of the offending field (`workers[1].ip`), empty for whole-file problems.
    pub field: String,
    pub message: String,
}

impl Diagnostic {
    pub fn new(
        file: impl Into<PathBuf>,
        pos: Option<Pos>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            pos,
            field: field.into(),
            message: message.into(),
        }
    }

    /// A problem with a file as a whole.
    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::new(file, None, "", message)
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: field: message`, the format editors and CI annotators understand.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(pos) = self.pos {
            write!(f, ":{}:{}", pos.line, pos.col)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one load, in source order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// Sorts by file and position so output is stable whatever order checks ran in.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| {
            (a.file.as_path(), a.pos, a.field.as_str()).cmp(&(
                b.file.as_path(),
                b.pos,
                b.field.as_str(),
            ))
        });
        self.0.dedup();
        self
    }

    /// `Ok(())` when nothing was reported, the sorted problems otherwise.
    pub fn into_result(self) -> Result<(), Diagnostics> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.sorted())
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// An error and its sources on one line (`a: b: c`), skipping a source whose text the line
/// already holds (many errors quote their source in their own message).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// The known name closest to `unknown`, if it is close enough to be a plausible typo.
pub fn suggest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let unknown_lower = unknown.to_ascii_lowercase();
    let unknown_chars = unknown.chars().count();
    let close = |d: usize, k: &str| d <= (k.len().max(unknown.len()) / 3).max(2);
    known
        .into_iter()
        // The distance is at least the difference in length: a name far longer or shorter is
        // never a typo, and skipping it keeps a megabyte-long key from costing seconds.
        .filter(|k| close(k.chars().count().abs_diff(unknown_chars), k))
        .map(|k| (edit_distance(&unknown_lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| close(*d, k))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A name from the input (a key, a field) as messages show it: names are shown so users find
/// them, but one long enough to be content, or to flood a terminal, is cut.
pub fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        None => std::borrow::Cow::Borrowed(text),
        Some((at, _)) => format!("{}... ({} bytes)", &text[..at], text.len()).into(),
    }
}

/// Levenshtein distance over chars; inputs are short field names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_file_line_col_field_message() {
        let d = Diagnostic::new("a/b.yaml", Some(Pos::new(3, 7)), "workers[0].ip", "bad");
        assert_eq!(d.to_string(), "a/b.yaml:3:7: workers[0].ip: bad");
        assert_eq!(
            Diagnostic::file("x.yaml", "missing").to_string(),
            "x.yaml: missing"
        );
    }

    #[test]
    fn suggests_nearest_known_name() {
        let known = ["controlplane", "workers", "cluster", "talos", "kubernetes"];
        assert_eq!(suggest("worker", known), Some("workers"));
        assert_eq!(suggest("controlPlane", known), Some("controlplane"));
        assert_eq!(suggest("kubernets", known), Some("kubernetes"));
        assert_eq!(suggest("zzzzzz", known), None);
    }

    #[test]
    fn long_names_are_clipped_on_a_character_boundary() {
        assert_eq!(clip("workers"), "workers");
        let long = "é".repeat(100);
        let clipped = clip(&long);
        assert!(clipped.starts_with(&"é".repeat(64)), "{clipped}");
        assert!(clipped.ends_with("... (200 bytes)"), "{clipped}");
        assert_eq!(suggest(&"k".repeat(1_000_000), ["kubernetes"]), None);
    }

    #[test]
    fn sorted_orders_by_file_then_position() {
        let mut ds = Diagnostics::new();
        ds.push(Diagnostic::new("b", Some(Pos::new(1, 1)), "", "x"));
        ds.push(Diagnostic::new("a", Some(Pos::new(9, 1)), "", "y"));
        ds.push(Diagnostic::new("a", Some(Pos::new(2, 1)), "", "z"));
        let msgs: Vec<_> = ds.sorted().into_iter().map(|d| d.message).collect();
        assert_eq!(msgs, ["z", "y", "x"]);
    }
}
