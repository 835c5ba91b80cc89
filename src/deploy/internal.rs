//! `dependencies.internal`: what the service's own claims create, validated after deploy. Each
//! entry is either one deploy knows how to check or said to be unchecked; none is silently
//! ignored.
//!
//! - `postgres`, `postgresql`, `database`: the PostgresInstance claim `<service>-db` Ready and
//!   its connection Secret `<service>-db-conn` (waited for before the service claims, as the
//!   service reads that Secret);
//! - `redis`, `dragonfly`, `cache`: the platform provides Redis as Dragonfly, and the upstream
//!   contract names the cache `<service>-cache`; its DragonflyInstance claim is waited for with
//!   the other claims, so it is checked when the claims directory holds it.
//!
//! Anything else (the upstream examples list `nats-streams`, `keda-scaler`) has no claim deploy
//! could read, and is reported as not checked.

use super::plan::{DATABASE_API_VERSION, Plan};

/// How deploy checks one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Internal {
    Postgres,
    Cache,
    /// Not something deploy can check.
    Unknown,
}

/// The entries deploy understands, for messages.
pub const KNOWN: &str = "postgres, postgresql, database, redis, dragonfly, cache";

pub fn classify(entry: &str) -> Internal {
    match entry {
        "postgres" | "postgresql" | "database" => Internal::Postgres,
        "redis" | "dragonfly" | "cache" => Internal::Cache,
        _ => Internal::Unknown,
    }
}

/// The name of the service's cache claim.
pub fn cache_claim(service: &str) -> String {
    format!("{service}-cache")
}

/// One warning per entry of `dependencies.internal` that deploy will not check: unknown
/// entries, and a cache the claims do not define.
pub fn unchecked(plan: &Plan) -> Vec<String> {
    let svc = &plan.service;
    let cache = cache_claim(&svc.name);
    let has_cache = plan.objects.iter().any(|o| {
        o.api_version == DATABASE_API_VERSION && o.kind == "DragonflyInstance" && o.name == cache
    });
    let mut out = Vec::new();
    for entry in &svc.dependencies.internal {
        match classify(entry) {
            Internal::Postgres => {}
            Internal::Cache if has_cache => {}
            Internal::Cache => out.push(format!(
                "dependencies.internal lists `{entry}`, but the claims define no DragonflyInstance {cache}: not checked"
            )),
            Internal::Unknown => out.push(format!(
                "dependencies.internal lists `{}`, which deploy cannot check (it checks {KNOWN}): not checked",
                entry.escape_debug()
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_of_the_upstream_examples_is_classified() {
        assert_eq!(classify("postgres"), Internal::Postgres);
        assert_eq!(classify("database"), Internal::Postgres);
        assert_eq!(classify("redis"), Internal::Cache);
        assert_eq!(classify("dragonfly"), Internal::Cache);
        assert_eq!(classify("nats-streams"), Internal::Unknown);
        assert_eq!(classify("keda-scaler"), Internal::Unknown);
        assert_eq!(
            cache_claim("deepagents-runtime"),
            "deepagents-runtime-cache"
        );
    }
}
