//! Glob patterns: `*`, `?`, `**` (any number of directories, in file patterns) and `{a,b}`
//! alternatives; `\` makes the next character literal. File patterns are matched segment by
//! segment against `/`-separated paths relative to the platform repo; text patterns (selector and
//! predicate values such as repository URLs) treat `/` like any other character.

use std::fmt;

/// The most alternatives one pattern may expand to; `{a,b}{c,d}...` grows fast.
const MAX_ALTERNATIVES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(char),
    /// `?`: one character (not `/` in file patterns).
    One,
    /// `*`: any run of characters (not `/` in file patterns).
    Star,
    /// `**` as a whole segment of a file pattern: any number of directories.
    Dirs,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    path: bool,
    /// One entry per `{}` alternative; each a list of segments (one segment for text patterns).
    alternatives: Vec<Vec<Vec<Piece>>>,
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.source)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Glob {
    /// A pattern for paths relative to the platform repo (`bootstrap/**/*.yaml`).
    pub fn path(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("an empty file pattern matches nothing".into());
        }
        if pattern.starts_with('/') {
            return Err(format!(
                "`{pattern}` is absolute; file patterns are relative to the platform repo"
            ));
        }
        let alternatives = expand(pattern)?
            .into_iter()
            .map(|alt| {
                alt.split('/')
                    .map(|seg| {
                        if seg == ".." || seg == "." || seg.is_empty() {
                            return Err(format!(
                                "`{pattern}` must name paths inside the platform repo (no `..`, `.` or empty segments)"
                            ));
                        }
                        Ok(if seg == "**" {
                            vec![Piece::Dirs]
                        } else {
                            compile(seg)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Glob {
            source: pattern.to_string(),
            path: true,
            alternatives,
        })
    }

    /// A pattern for any text; `/` is an ordinary character.
    pub fn text(pattern: &str) -> Result<Glob, String> {
        let alternatives = expand(pattern)?
            .into_iter()
            .map(|alt| vec![compile(&alt)])
            .collect();
        Ok(Glob {
            source: pattern.to_string(),
            path: false,
            alternatives,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, candidate: &str) -> bool {
        if self.path {
            let segs: Vec<&str> = candidate.split('/').collect();
            self.alternatives
                .iter()
                .any(|alt| match_segments(alt, &segs))
        } else {
            let chars: Vec<char> = candidate.chars().collect();
            self.alternatives
                .iter()
                .any(|alt| match_pieces(&alt[0], &chars, false))
        }
    }

    /// The directories a walk must visit to find every match: the literal leading segments of
    /// each alternative (`bootstrap/argocd` for `bootstrap/argocd/**/*.yaml`). Empty means the
    /// repository root.
    pub fn base_dirs(&self) -> Vec<String> {
        self.alternatives
            .iter()
            .map(|alt| {
                let mut dirs = Vec::new();
                for seg in &alt[..alt.len().saturating_sub(1)] {
                    if seg.iter().all(|p| matches!(p, Piece::Lit(_))) {
                        dirs.push(
                            seg.iter()
                                .map(|p| match p {
                                    Piece::Lit(c) => *c,
                                    _ => '?',
                                })
                                .collect::<String>(),
                        );
                    } else {
                        break;
                    }
                }
                dirs.join("/")
            })
            .collect()
    }
}

/// Expands `{a,b}` alternatives (nested allowed); escapes are kept for [`compile`].
fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    // Find the first top-level `{` and its matching `}`.
    let mut i = 0;
    let mut open = None;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => {
                open = Some(i);
                break;
            }
            '}' => return Err(format!("`{pattern}`: `}}` without a matching `{{`")),
            _ => {}
        }
        i += 1;
    }
    let Some(start) = open else {
        return Ok(vec![pattern.to_string()]);
    };
    let mut depth = 0;
    let mut parts = Vec::new();
    let mut part_start = start + 1;
    let mut end = None;
    let mut j = start;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    parts.push(chars[part_start..j].iter().collect::<String>());
                    end = Some(j);
                    break;
                }
            }
            ',' if depth == 1 => {
                parts.push(chars[part_start..j].iter().collect::<String>());
                part_start = j + 1;
            }
            _ => {}
        }
        j += 1;
    }
    let Some(end) = end else {
        return Err(format!("`{pattern}`: `{{` is never closed"));
    };
    let head: String = chars[..start].iter().collect();
    let tail: String = chars[end + 1..].iter().collect();
    let mut out = Vec::new();
    for part in parts {
        for expanded in expand(&format!("{head}{part}{tail}"))? {
            out.push(expanded);
            if out.len() > MAX_ALTERNATIVES {
                return Err(format!(
                    "`{pattern}` expands to more than {MAX_ALTERNATIVES} alternatives"
                ));
            }
        }
    }
    Ok(out)
}

fn compile(seg: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut chars = seg.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '\\' => Piece::Lit(chars.next().unwrap_or('\\')),
            '*' => {
                if out.last() == Some(&Piece::Star) {
                    continue;
                }
                Piece::Star
            }
            '?' => Piece::One,
            c => Piece::Lit(c),
        });
    }
    out
}

fn match_segments(pattern: &[Vec<Piece>], segs: &[&str]) -> bool {
    match pattern.split_first() {
        None => segs.is_empty(),
        Some((first, rest)) if first.as_slice() == [Piece::Dirs] => {
            (0..=segs.len()).any(|skip| match_segments(rest, &segs[skip..]))
        }
        Some((first, rest)) => match segs.split_first() {
            Some((seg, more)) => {
                let chars: Vec<char> = seg.chars().collect();
                match_pieces(first, &chars, true) && match_segments(rest, more)
            }
            None => false,
        },
    }
}

/// Wildcard matching with backtracking to the most recent `*`.
fn match_pieces(pieces: &[Piece], text: &[char], path: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pieces.get(p) {
            Some(Piece::Lit(c)) if *c == text[t] => {
                p += 1;
                t += 1;
                continue;
            }
            Some(Piece::One) if !(path && text[t] == '/') => {
                p += 1;
                t += 1;
                continue;
            }
            Some(Piece::Star) => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) if !(path && text[st] == '/') => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            _ => return false,
        }
    }
    pieces[p..].iter().all(|x| *x == Piece::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_patterns() {
        let g = Glob::path("bootstrap/**/*.yaml").unwrap();
        assert!(g.is_match("bootstrap/argocd/base/00-eso.yaml"));
        assert!(g.is_match("bootstrap/root.yaml"));
        assert!(!g.is_match("bootstrap/argocd/base/00-eso.yml"));
        assert!(!g.is_match("platform/x.yaml"));
        assert_eq!(g.base_dirs(), ["bootstrap"]);
        let g = Glob::path("platform/databases/**/dragonfly-composition.{yaml,yml}").unwrap();
        assert!(g.is_match("platform/databases/compositions/dragonfly-composition.yaml"));
        assert!(g.is_match("platform/databases/dragonfly/dragonfly-composition.yml"));
        assert_eq!(g.base_dirs(), ["platform/databases", "platform/databases"]);
        let g = Glob::path("overlays/*/root.yaml").unwrap();
        assert!(g.is_match("overlays/preview/root.yaml"));
        assert!(!g.is_match("overlays/main/dev/root.yaml"));
    }

    #[test]
    fn text_patterns_cross_slashes() {
        let g = Glob::text("https://github.com/*/zerotouch-platform{,.git}").unwrap();
        assert!(g.is_match("https://github.com/arun4infra/zerotouch-platform.git"));
        assert!(g.is_match("https://github.com/a/zerotouch-platform"));
        assert!(!g.is_match("https://github.com/a/zerotouch-platform-extras.git"));
        assert!(!g.is_match("https://charts.crossplane.io/stable"));
        assert!(Glob::text("a\\*b").unwrap().is_match("a*b"));
        assert!(!Glob::text("a\\*b").unwrap().is_match("axb"));
        assert!(
            Glob::text("*cilium.yaml*")
                .unwrap()
                .is_match("{cilium.yaml,network-policies/*}")
        );
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(Glob::path("").is_err());
        assert!(Glob::path("/etc/*.yaml").is_err());
        assert!(Glob::path("../x.yaml").is_err());
        assert!(Glob::path("a//b").is_err());
        assert!(Glob::text("{a,b").unwrap_err().contains("never closed"));
        assert!(Glob::text("a}").is_err());
    }
}
