//! The CI run's summary as Markdown, for `GITHUB_STEP_SUMMARY` (or any CI that renders it).

/// How a stage of the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageResult {
    Done,
    /// Done in an earlier run (the stage cache).
    Cached,
    /// Failed with this message (its first line is shown).
    Failed(String),
    /// Not reached.
    NotRun,
}

/// A heading that says whether the run passed, and one table row per stage, in order. Nothing
/// secret can be in it: stage messages are redacted where they are made.
pub fn step_summary(title: &str, stages: &[(String, StageResult)]) -> String {
    let passed = stages
        .iter()
        .all(|(_, r)| matches!(r, StageResult::Done | StageResult::Cached));
    let mut out = format!(
        "### {title}: {}\n\n| stage | result |\n|---|---|\n",
        if passed { "passed" } else { "failed" }
    );
    for (name, result) in stages {
        let shown = match result {
            StageResult::Done => "✓ done".to_string(),
            StageResult::Cached => "↷ done in an earlier run".to_string(),
            StageResult::Failed(why) => {
                format!("✗ {}", cell(why.lines().next().unwrap_or_default()))
            }
            StageResult::NotRun => "not run".to_string(),
        };
        out.push_str(&format!("| `{}` | {shown} |\n", cell(name)));
    }
    out
}

/// Text that cannot break a Markdown table row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_says_where_and_why_in_one_row() {
        let s = step_summary(
            "kubectl zt ci my-svc",
            &[
                ("kind-create".into(), StageResult::Cached),
                ("deploy".into(), StageResult::Done),
                (
                    "tests".into(),
                    StageResult::Failed(
                        "tests Job a/b failed: BackoffLimitExceeded | x\n  pod ...".into(),
                    ),
                ),
                ("cleanup".into(), StageResult::NotRun),
            ],
        );
        assert_eq!(
            s,
            "### kubectl zt ci my-svc: failed\n\n| stage | result |\n|---|---|\n\
             | `kind-create` | ↷ done in an earlier run |\n| `deploy` | ✓ done |\n\
             | `tests` | ✗ tests Job a/b failed: BackoffLimitExceeded \\| x |\n| `cleanup` | not run |\n"
        );
        assert!(
            step_summary("t", &[("deploy".into(), StageResult::Done)]).starts_with("### t: passed")
        );
    }
}
