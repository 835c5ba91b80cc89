//! Credentials the platform needs, taken from environment variables (never from files in git).
//! Values are [`SecretString`]s: they never reach logs, errors or diffs. Problems are reported by
//! variable name only.

use std::collections::BTreeMap;

use crate::secret::SecretString;

pub const BOT_GITHUB_USERNAME: &str = "BOT_GITHUB_USERNAME";
pub const BOT_GITHUB_TOKEN: &str = "BOT_GITHUB_TOKEN";
pub const TENANTS_REPO_NAME: &str = "TENANTS_REPO_NAME";
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";

/// Every variable kubectl zt reads for secrets.
pub const ALL: [&str; 8] = [
    BOT_GITHUB_USERNAME,
    BOT_GITHUB_TOKEN,
    TENANTS_REPO_NAME,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    OPENAI_API_KEY,
    ANTHROPIC_API_KEY,
];

/// Which platform is being rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bare-metal Talos, tenants deployed.
    Production,
    /// Kind in CI, tenants excluded, AWS credentials from OIDC (session token required).
    Preview,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Production => "production",
            Mode::Preview => "preview",
        }
    }
}

/// A snapshot of the variables above. Captured once at the edge (the plugin main) so the library
/// never reads the process environment itself and tests can pass exact values.
#[derive(Debug, Clone, Default)]
pub struct EnvSnapshot {
    values: BTreeMap<&'static str, SecretString>,
}

impl EnvSnapshot {
    /// Reads [`ALL`] from the process environment. Empty values count as unset.
    pub fn from_process() -> Self {
        Self::from_pairs(
            ALL.iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (*k, v))),
        )
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Self {
        let mut values = BTreeMap::new();
        for (k, v) in pairs {
            if let Some(known) = ALL.iter().find(|a| **a == k)
                && !v.is_empty()
            {
                values.insert(*known, SecretString::new(v));
            }
        }
        EnvSnapshot { values }
    }

    fn get(&self, k: &str) -> Option<&SecretString> {
        self.values.get(k)
    }

    /// The credentials `mode` needs, or every problem by variable name.
    pub fn credentials(&self, mode: Mode) -> Result<Credentials, CredentialsError> {
        let mut required = vec![
            BOT_GITHUB_USERNAME,
            BOT_GITHUB_TOKEN,
            AWS_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY,
        ];
        match mode {
            Mode::Production => required.insert(2, TENANTS_REPO_NAME),
            // CI reaches AWS through OIDC: temporary credentials always carry a session token.
            Mode::Preview => required.push(AWS_SESSION_TOKEN),
        }
        let missing: Vec<&'static str> = required
            .into_iter()
            .filter(|k| self.get(k).is_none())
            .collect();
        let mut invalid = Vec::new();
        let username = self
            .get(BOT_GITHUB_USERNAME)
            .map(|s| s.expose().to_string());
        if let Some(u) = &username
            && !is_github_name(u)
        {
            invalid.push((
                BOT_GITHUB_USERNAME,
                "is not a GitHub user or organisation name (letters, digits and single `-`)",
            ));
        }
        let tenants_repo = match (mode, self.get(TENANTS_REPO_NAME)) {
            (Mode::Production, Some(v)) => match parse_repo_name(v.expose(), username.as_deref()) {
                Some(r) => Some(r),
                None => {
                    invalid.push((
                        TENANTS_REPO_NAME,
                        "must be `repo` or `owner/repo` (letters, digits, `.`, `_`, `-`)",
                    ));
                    None
                }
            },
            _ => None,
        };
        if !missing.is_empty() || !invalid.is_empty() {
            return Err(CredentialsError {
                mode,
                missing,
                invalid,
            });
        }
        let get = |k| self.get(k).cloned().unwrap_or_default();
        Ok(Credentials {
            bot_username: username.unwrap_or_default(),
            bot_token: get(BOT_GITHUB_TOKEN),
            tenants_repo,
            aws_access_key_id: get(AWS_ACCESS_KEY_ID),
            aws_secret_access_key: get(AWS_SECRET_ACCESS_KEY),
            aws_session_token: get(AWS_SESSION_TOKEN),
            openai_api_key: self.get(OPENAI_API_KEY).cloned(),
            anthropic_api_key: self.get(ANTHROPIC_API_KEY).cloned(),
        })
    }

    /// `BOT_GITHUB_USERNAME` if set and well-formed (it is not a secret: it appears in URLs).
    pub fn bot_username(&self) -> Option<String> {
        self.get(BOT_GITHUB_USERNAME)
            .map(|s| s.expose().to_string())
            .filter(|u| is_github_name(u))
    }
}

/// `owner/name` of a GitHub repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl RepoName {
    pub fn https_url(&self) -> String {
        format!("https://github.com/{}/{}.git", self.owner, self.name)
    }
}

/// Everything the rendered Secrets hold.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub bot_username: String,
    pub bot_token: SecretString,
    /// Production only: the tenants repository Argo CD reads.
    pub tenants_repo: Option<RepoName>,
    pub aws_access_key_id: SecretString,
    pub aws_secret_access_key: SecretString,
    /// Empty for long-lived keys (production); required in preview.
    pub aws_session_token: SecretString,
    pub openai_api_key: Option<SecretString>,
    pub anthropic_api_key: Option<SecretString>,
}

/// Missing or malformed variables, by name only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CredentialsError {
    pub mode: Mode,
    pub missing: Vec<&'static str>,
    pub invalid: Vec<(&'static str, &'static str)>,
}

impl std::fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "{} render needs these environment variables, which are not set: {}",
                self.mode.as_str(),
                self.missing.join(", ")
            ));
        }
        for (k, why) in &self.invalid {
            parts.push(format!("{k} {why}"));
        }
        write!(f, "{}", parts.join("; "))
    }
}

fn is_github_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 39
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn is_repo_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `repo` (owned by the bot user) or `owner/repo`; a trailing `.git` is accepted.
pub(crate) fn parse_repo_name(v: &str, default_owner: Option<&str>) -> Option<RepoName> {
    let v = v.strip_suffix(".git").unwrap_or(v);
    let (owner, name) = match v.split_once('/') {
        Some((o, n)) => (o.to_string(), n),
        None => (default_owner?.to_string(), v),
    };
    (is_github_name(&owner) && is_repo_segment(name)).then(|| RepoName {
        owner,
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        EnvSnapshot::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string())))
    }

    #[test]
    fn lists_every_missing_variable_by_name() {
        let e = env(&[(BOT_GITHUB_TOKEN, "tok-SECRET")])
            .credentials(Mode::Production)
            .unwrap_err();
        assert_eq!(
            e.missing,
            [
                BOT_GITHUB_USERNAME,
                TENANTS_REPO_NAME,
                AWS_ACCESS_KEY_ID,
                AWS_SECRET_ACCESS_KEY
            ]
        );
        assert!(!e.to_string().contains("tok-SECRET"));
        let e = env(&[]).credentials(Mode::Preview).unwrap_err();
        assert!(e.missing.contains(&AWS_SESSION_TOKEN) && !e.missing.contains(&TENANTS_REPO_NAME));
    }

    #[test]
    fn tenants_repo_accepts_owner_slash_name() {
        let base = [
            (BOT_GITHUB_USERNAME, "zt-bot"),
            (BOT_GITHUB_TOKEN, "t"),
            (AWS_ACCESS_KEY_ID, "a"),
            (AWS_SECRET_ACCESS_KEY, "s"),
        ];
        let with = |repo: &str| {
            let mut p = base.to_vec();
            p.push((TENANTS_REPO_NAME, repo));
            env(&p).credentials(Mode::Production)
        };
        assert_eq!(
            with("tenants").unwrap().tenants_repo.unwrap().https_url(),
            "https://github.com/zt-bot/tenants.git"
        );
        assert_eq!(
            with("acme/tenants.git")
                .unwrap()
                .tenants_repo
                .unwrap()
                .https_url(),
            "https://github.com/acme/tenants.git"
        );
        let e = with("a/b/c").unwrap_err();
        assert_eq!(e.invalid[0].0, TENANTS_REPO_NAME);
        let c = with("t").unwrap();
        assert!(c.aws_session_token.is_empty(), "optional in production");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let e = env(&[(BOT_GITHUB_USERNAME, "")])
            .credentials(Mode::Preview)
            .unwrap_err();
        assert!(e.missing.contains(&BOT_GITHUB_USERNAME));
    }
}
