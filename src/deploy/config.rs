//! The service CI contract, `ci/config.yaml`: a typed model read with every problem reported at
//! once (`file:line:col: field: message`). `deploy` uses `service.name`, `service.namespace`,
//! `deployment.*`, `dependencies.internal` and `diagnostics.post_deploy.test_health_endpoint`;
//! `kubectl zt test` uses `test`,
//! `migrations` and `env`; the other documented keys are accepted and checked so that one file
//! serves every CI step. Flags override the file.
//!
//! `env` values are held as [`SecretString`]: services put test credentials there, and the
//! upstream scripts logged every one of them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diag::{Diagnostic, Diagnostics};
use crate::fsio::confined;
use crate::secret::SecretString;
use crate::tenant::rules;
use crate::yaml::decode::{Decoder, Fields};
use crate::yaml::{self, Node};

/// Where the contract lives in a service repository.
pub const CONFIG_PATH: &str = "ci/config.yaml";
/// `deployment.wait_timeout` when the file does not set it (seconds, as upstream).
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(300);
/// `test.timeout` default (seconds).
pub const DEFAULT_TEST_TIMEOUT: u64 = 600;
/// The longest wait anyone should configure: a day.
const MAX_TIMEOUT_SECS: u64 = 86_400;

const TOP_KEYS: &[&str] = &[
    "service",
    "build",
    "test",
    "deployment",
    "dependencies",
    "env",
    "diagnostics",
    "platform",
    "migrations",
];
const SERVICE_KEYS: &[&str] = &["name", "namespace"];
const BUILD_KEYS: &[&str] = &["dockerfile", "context", "tag", "image"];
const TEST_KEYS: &[&str] = &["timeout", "parallel", "command", "path"];
const MIGRATIONS_KEYS: &[&str] = &["command", "timeout"];
const DEPLOYMENT_KEYS: &[&str] = &["wait_timeout", "health_endpoint", "liveness_endpoint"];
const DEPENDENCY_KEYS: &[&str] = &["platform", "external", "internal"];
const DIAGNOSTICS_KEYS: &[&str] = &["pre_deploy", "post_deploy"];
const PRE_DEPLOY_KEYS: &[&str] = &["check_dependencies", "check_platform_apis"];
const POST_DEPLOY_KEYS: &[&str] = &[
    "test_health_endpoint",
    "test_database_connection",
    "test_service_connectivity",
];
const PLATFORM_KEYS: &[&str] = &["branch"];

/// The service contract after defaults and flag overrides.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The file read, or `None` when flags supplied everything.
    pub file: Option<PathBuf>,
    pub name: String,
    pub namespace: String,
    pub wait_timeout: Duration,
    pub dependencies: Dependencies,
    pub build: Build,
    pub test: TestConfig,
    /// `migrations:`, when the service has them.
    pub migrations: Option<MigrationsConfig>,
    pub health_endpoint: String,
    pub liveness_endpoint: String,
    pub platform_branch: String,
    /// Environment for the service's tests: names in file order, values secret.
    pub env: Vec<(String, SecretString)>,
    /// `diagnostics.<phase>.<check>` switches that are on.
    pub diagnostics: Vec<String>,
}

/// `test:` — how `kubectl zt test` runs the service's in-cluster tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestConfig {
    /// The whole test Job must finish within this.
    pub timeout: Duration,
    /// Accepted for the contract; the Job runs one pod either way.
    pub parallel: bool,
    /// The command the test container runs; empty: the image's own entrypoint.
    pub command: Vec<String>,
    /// A test path given to the command as its last argument.
    pub path: Option<String>,
}

impl Default for TestConfig {
    fn default() -> Self {
        TestConfig {
            timeout: Duration::from_secs(DEFAULT_TEST_TIMEOUT),
            parallel: true,
            command: Vec::new(),
            path: None,
        }
    }
}

/// `migrations:` — a Job from the service's image that runs before the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationsConfig {
    pub command: Vec<String>,
    pub timeout: Duration,
}

/// `migrations.timeout` default.
pub const DEFAULT_MIGRATIONS_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependencies {
    pub platform: Vec<String>,
    pub external: Vec<String>,
    pub internal: Vec<String>,
}

impl Dependencies {
    /// Whether the service provisions its own Postgres database (`dependencies.internal` lists
    /// `postgres`, `postgresql` or `database`, as the upstream deploy script's grep did).
    pub fn has_postgres(&self) -> bool {
        self.internal
            .iter()
            .any(|d| matches!(d.as_str(), "postgres" | "postgresql" | "database"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub dockerfile: String,
    pub context: String,
    pub tag: String,
    pub image: Option<String>,
}

impl Default for Build {
    fn default() -> Self {
        Build {
            dockerfile: "Dockerfile".into(),
            context: ".".into(),
            tag: "ci-test".into(),
            image: None,
        }
    }
}

/// Flags that take precedence over the file (`--service`, `--namespace`, `--timeout`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub service: Option<String>,
    pub namespace: Option<String>,
    pub timeout: Option<Duration>,
}

/// Reads `<root>/ci/config.yaml` and applies `overrides`. The file may be absent only when the
/// flags give both the service and the namespace.
pub fn load(root: &Path, overrides: &Overrides) -> Result<ServiceConfig, Diagnostics> {
    let path = root.join(CONFIG_PATH);
    match confined::read_text(root, Path::new(CONFIG_PATH), root) {
        Ok(Some(src)) => parse(&src, &path, overrides),
        Ok(None) => {
            if overrides.service.is_some() && overrides.namespace.is_some() {
                from_flags_only(overrides)
            } else {
                Err(Diagnostic::file(
                    &path,
                    "not found: run kubectl zt deploy in the service repository (the one with ci/config.yaml naming service.name and service.namespace), point --root at it, or pass both --service and --namespace",
                )
                .into())
            }
        }
        Err(e) => Err(Diagnostic::from(e).into()),
    }
}

impl ServiceConfig {
    /// A service known only by its name and namespace, every other key at its default (a
    /// dependency deployed from its claims alone).
    pub fn named(name: &str, namespace: &str, wait_timeout: Duration) -> ServiceConfig {
        ServiceConfig {
            file: None,
            name: name.to_string(),
            namespace: namespace.to_string(),
            wait_timeout,
            dependencies: Dependencies::default(),
            build: Build::default(),
            test: TestConfig::default(),
            migrations: None,
            health_endpoint: "/ready".into(),
            liveness_endpoint: "/health".into(),
            platform_branch: "main".into(),
            env: Vec::new(),
            diagnostics: Vec::new(),
        }
    }
}

fn from_flags_only(o: &Overrides) -> Result<ServiceConfig, Diagnostics> {
    let mut ds = Diagnostics::new();
    let name = o.service.clone().unwrap_or_default();
    let namespace = o.namespace.clone().unwrap_or_default();
    check_flag(&mut ds, "--service", &name);
    check_flag(&mut ds, "--namespace", &namespace);
    ds.into_result()?;
    Ok(ServiceConfig::named(
        &name,
        &namespace,
        o.timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT),
    ))
}

fn check_flag(ds: &mut Diagnostics, flag: &str, value: &str) {
    if let Err(m) = rules::dns1123_label(value) {
        ds.push(Diagnostic::file(flag, m));
    }
}

/// Parses the contract's text; `file` names it in diagnostics.
pub fn parse(src: &str, file: &Path, o: &Overrides) -> Result<ServiceConfig, Diagnostics> {
    let doc =
        crate::yaml::decode::document(src, file, "at least service.name and service.namespace")?;
    let mut d = Decoder::new(file);
    let Some(top) = d.fields(&doc, "", TOP_KEYS) else {
        return Err(d.finish().sorted());
    };

    // service: both keys are required unless a flag gives them.
    let service = match top.get("service") {
        Some(n) => d.fields(n, "service", SERVICE_KEYS),
        None => {
            if o.service.is_none() || o.namespace.is_none() {
                d.error(
                    Some(doc.pos),
                    "service",
                    "required key `service` is missing; expected service.name and service.namespace",
                );
            }
            None
        }
    };
    let name = name_field(&mut d, service.as_ref(), "name", o.service.as_deref());
    let namespace = name_field(
        &mut d,
        service.as_ref(),
        "namespace",
        o.namespace.as_deref(),
    );

    let build = build_section(&mut d, &top);
    let test = test_section(&mut d, &top);
    let migrations = migrations_section(&mut d, &top);
    let deployment = deployment_section(&mut d, &top);
    let dependencies = dependencies_section(&mut d, &top);
    let env = env_section(&mut d, &top);
    let diagnostics = diagnostics_section(&mut d, &top);
    let platform_branch = platform_branch(&mut d, &top);
    let wait_timeout = o.timeout.unwrap_or(deployment.wait_timeout);
    match (name, namespace) {
        (Some(name), Some(namespace)) if !d.has_errors() => Ok(ServiceConfig {
            file: Some(file.to_path_buf()),
            name,
            namespace,
            wait_timeout,
            dependencies,
            build,
            test,
            migrations,
            health_endpoint: deployment.health_endpoint,
            liveness_endpoint: deployment.liveness_endpoint,
            platform_branch,
            env,
            diagnostics,
        }),
        _ => Err(d.finish().sorted()),
    }
}

/// `build:`; each key keeps its default when absent.
fn build_section(d: &mut Decoder, top: &Fields<'_>) -> Build {
    let mut build = Build::default();
    let Some(f) = top
        .get("build")
        .and_then(|n| d.fields(n, "build", BUILD_KEYS))
    else {
        return build;
    };
    if let Some(v) = d.opt_string(&f, "dockerfile") {
        build.dockerfile = v;
    }
    if let Some(v) = d.opt_string(&f, "context") {
        build.context = v;
    }
    if let Some(v) = d.opt_string(&f, "tag") {
        build.tag = v;
    }
    build.image = d.opt_string(&f, "image");
    build
}

fn test_section(d: &mut Decoder, top: &Fields<'_>) -> TestConfig {
    let mut test = TestConfig::default();
    let Some(f) = top.get("test").and_then(|n| d.fields(n, "test", TEST_KEYS)) else {
        return test;
    };
    if let Some(t) = timeout_field(d, &f, "timeout") {
        test.timeout = t;
    }
    if let Some(v) = d.opt_bool(&f, "parallel") {
        test.parallel = v;
    }
    test.command = string_list(d, &f, "command");
    test.path = d.opt_string(&f, "path");
    test
}

fn migrations_section(d: &mut Decoder, top: &Fields<'_>) -> Option<MigrationsConfig> {
    let n = top.get("migrations")?;
    let f = d.fields(n, "migrations", MIGRATIONS_KEYS)?;
    let command = string_list(d, &f, "command");
    match f.get("command") {
        None => d.error(
            Some(n.pos),
            "migrations",
            "required key `command` is missing; expected the migration command as a list, like [alembic, upgrade, head]",
        ),
        Some(c) if matches!(&c.kind, yaml::NodeKind::Seq(items) if items.is_empty()) => d.error(
            Some(c.pos),
            &f.child("command"),
            "expected at least one word: the migration command",
        ),
        Some(_) => {}
    }
    Some(MigrationsConfig {
        command,
        timeout: timeout_field(d, &f, "timeout").unwrap_or(DEFAULT_MIGRATIONS_TIMEOUT),
    })
}

/// A timeout in whole seconds, 1 to a day.
fn timeout_field(d: &mut Decoder, f: &Fields<'_>, key: &str) -> Option<Duration> {
    let n = f.get(key)?;
    d.uint(n, &f.child(key), 1..=MAX_TIMEOUT_SECS)
        .map(Duration::from_secs)
}

/// `deployment:` as read.
struct DeploymentSection {
    wait_timeout: Duration,
    health_endpoint: String,
    liveness_endpoint: String,
}

fn deployment_section(d: &mut Decoder, top: &Fields<'_>) -> DeploymentSection {
    let mut dep = DeploymentSection {
        wait_timeout: DEFAULT_WAIT_TIMEOUT,
        health_endpoint: "/ready".to_string(),
        liveness_endpoint: "/health".to_string(),
    };
    let Some(f) = top
        .get("deployment")
        .and_then(|n| d.fields(n, "deployment", DEPLOYMENT_KEYS))
    else {
        return dep;
    };
    if let Some(t) = timeout_field(d, &f, "wait_timeout") {
        dep.wait_timeout = t;
    }
    if let Some(v) = path_field(d, &f, "health_endpoint") {
        dep.health_endpoint = v;
    }
    if let Some(v) = path_field(d, &f, "liveness_endpoint") {
        dep.liveness_endpoint = v;
    }
    dep
}

fn dependencies_section(d: &mut Decoder, top: &Fields<'_>) -> Dependencies {
    let mut dependencies = Dependencies::default();
    if let Some(f) = top
        .get("dependencies")
        .and_then(|n| d.fields(n, "dependencies", DEPENDENCY_KEYS))
    {
        dependencies.platform = string_list(d, &f, "platform");
        dependencies.external = string_list(d, &f, "external");
        dependencies.internal = string_list(d, &f, "internal");
    }
    dependencies
}

/// `env:` — every value is kept as a secret: nothing tells which of them are.
fn env_section(d: &mut Decoder, top: &Fields<'_>) -> Vec<(String, SecretString)> {
    let Some(n) = top.get("env") else {
        return Vec::new();
    };
    d.string_map(n, "env")
        .map(|m| {
            m.into_iter()
                .map(|(k, v, _)| (k, SecretString::new(v)))
                .collect()
        })
        .unwrap_or_default()
}

/// `diagnostics:` — the checks turned on, as `phase.check`.
fn diagnostics_section(d: &mut Decoder, top: &Fields<'_>) -> Vec<String> {
    let mut diagnostics = Vec::new();
    let Some(f) = top
        .get("diagnostics")
        .and_then(|n| d.fields(n, "diagnostics", DIAGNOSTICS_KEYS))
    else {
        return diagnostics;
    };
    for (phase, known) in [
        ("pre_deploy", PRE_DEPLOY_KEYS),
        ("post_deploy", POST_DEPLOY_KEYS),
    ] {
        let Some(pf) = f
            .get(phase)
            .and_then(|n| d.fields(n, &f.child(phase), known))
        else {
            continue;
        };
        for check in known {
            if d.opt_bool(&pf, check) == Some(true) {
                diagnostics.push(format!("{phase}.{check}"));
            }
        }
    }
    diagnostics
}

/// `platform.branch`, `main` by default.
fn platform_branch(d: &mut Decoder, top: &Fields<'_>) -> String {
    top.get("platform")
        .and_then(|n| d.fields(n, "platform", PLATFORM_KEYS))
        .and_then(|f| d.opt_string(&f, "branch"))
        .unwrap_or_else(|| "main".to_string())
}

/// `service.name` / `service.namespace`: a DNS-1123 label, from the flag when given.
fn name_field(
    d: &mut Decoder,
    service: Option<&Fields<'_>>,
    key: &str,
    flag: Option<&str>,
) -> Option<String> {
    let from_file = service.and_then(|f| {
        if flag.is_some() {
            // Still type-check what the file says; the flag wins.
            f.get(key).and_then(|n| d.string(n, &f.child(key)))
        } else {
            d.req_string(f, key)
        }
    });
    let (value, pos) = match flag {
        Some(v) => (v.to_string(), None),
        None => (
            from_file?,
            service.and_then(|f| f.get(key)).map(|n: &Node| n.pos),
        ),
    };
    if let Err(m) = rules::dns1123_label(&value) {
        match pos {
            Some(p) => d.error(Some(p), &format!("service.{key}"), m),
            None => d.error(None, &format!("--{}", flag_name(key)), m),
        }
        return None;
    }
    Some(value)
}

fn flag_name(key: &str) -> &'static str {
    if key == "name" {
        "service"
    } else {
        "namespace"
    }
}

fn path_field(d: &mut Decoder, f: &Fields<'_>, key: &str) -> Option<String> {
    let n = f.get(key)?;
    let v = d.string(n, &f.child(key))?;
    if v.starts_with('/') {
        Some(v)
    } else {
        d.error(
            Some(n.pos),
            &f.child(key),
            "expected an HTTP path starting with `/`, like /ready",
        );
        None
    }
}

fn string_list(d: &mut Decoder, f: &Fields<'_>, key: &str) -> Vec<String> {
    let Some(n) = f.get(key) else {
        return Vec::new();
    };
    let path = f.child(key);
    let Some(items) = d.seq(n, &path) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| d.string(item, &format!("{path}[{i}]")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> ServiceConfig {
        parse(src, Path::new("ci/config.yaml"), &Overrides::default())
            .unwrap_or_else(|d| panic!("{d}"))
    }

    fn problems(src: &str, o: &Overrides) -> Vec<String> {
        parse(src, Path::new("ci/config.yaml"), o)
            .map(|_| Vec::new())
            .unwrap_or_else(|d| d.iter().map(|x| x.to_string()).collect())
    }

    const FULL: &str = r#"# CI contract
service:
  name: "deepagents-runtime"
  namespace: "intelligence-deepagents"
build:
  dockerfile: "Dockerfile"
  context: "."
  tag: "ci-test"
test:
  timeout: 600
  parallel: true
deployment:
  wait_timeout: 120         # seconds
  health_endpoint: "/ready"
  liveness_endpoint: "/health"
dependencies:
  platform: [nats, keda]
  external: []
  internal:
    - postgres
    - redis
env:
  USE_MOCK_LLM: "true"
  JWT_SECRET: "hunter2-test-secret"
diagnostics:
  pre_deploy:
    check_dependencies: true
    check_platform_apis: false
  post_deploy:
    test_health_endpoint: true
platform:
  branch: "main"
"#;

    #[test]
    fn reads_every_documented_key() {
        let c = parse_ok(FULL);
        assert_eq!(c.name, "deepagents-runtime");
        assert_eq!(c.namespace, "intelligence-deepagents");
        assert_eq!(c.wait_timeout, Duration::from_secs(120));
        assert_eq!(c.dependencies.internal, ["postgres", "redis"]);
        assert_eq!(c.dependencies.platform, ["nats", "keda"]);
        assert!(c.dependencies.has_postgres());
        assert_eq!(c.build.tag, "ci-test");
        assert_eq!(c.test.timeout, Duration::from_secs(600));
        assert_eq!(
            c.diagnostics,
            [
                "pre_deploy.check_dependencies",
                "post_deploy.test_health_endpoint"
            ]
        );
        assert_eq!(c.env[1].0, "JWT_SECRET");
        assert!(
            !format!("{c:?}").contains("hunter2"),
            "env values are secret"
        );
    }

    #[test]
    fn defaults_for_a_minimal_file() {
        let c = parse_ok("service:\n  name: my-svc\n  namespace: team-a\n");
        assert_eq!(c.wait_timeout, DEFAULT_WAIT_TIMEOUT);
        assert!(!c.dependencies.has_postgres());
        assert_eq!(c.build, Build::default());
    }

    #[test]
    fn flags_override_the_file() {
        let o = Overrides {
            service: Some("other".into()),
            namespace: Some("ns2".into()),
            timeout: Some(Duration::from_secs(7)),
        };
        let c = parse(
            "service:\n  name: my-svc\n  namespace: team-a\n",
            Path::new("c"),
            &o,
        )
        .unwrap();
        assert_eq!((c.name.as_str(), c.namespace.as_str()), ("other", "ns2"));
        assert_eq!(c.wait_timeout, Duration::from_secs(7));
        // With both flags the service section may be absent.
        assert!(parse("deployment:\n  wait_timeout: 5\n", Path::new("c"), &o).is_ok());
    }

    #[test]
    fn every_problem_at_once_with_positions() {
        let src = "service:\n  nmae: my-svc\n  namespace: Team_A\ndeployment:\n  wait_timeout: soon\n  health_endpoint: ready\ndependencies:\n  internal: postgres\nenv:\n  FLAG: true\n";
        let p = problems(src, &Overrides::default());
        assert_eq!(
            p,
            [
                "ci/config.yaml:2:3: service.name: required key `name` is missing",
                "ci/config.yaml:2:3: service.nmae: unknown key `nmae`; did you mean `name`?",
                "ci/config.yaml:3:14: service.namespace: must be a DNS-1123 label: lower-case letters, digits and `-`, starting and ending with a letter or digit",
                "ci/config.yaml:5:17: deployment.wait_timeout: expected a whole number from 1 to 86400, found a string",
                "ci/config.yaml:6:20: deployment.health_endpoint: expected an HTTP path starting with `/`, like /ready",
                "ci/config.yaml:8:13: dependencies.internal: expected a list, found a string",
                "ci/config.yaml:10:9: env[FLAG]: expected a string, found a boolean (YAML reads this unquoted value as a boolean); write it in quotes",
            ],
            "{p:#?}"
        );
    }

    #[test]
    fn malformed_and_empty_files() {
        let p = problems("service: [\n", &Overrides::default());
        assert_eq!(p.len(), 1);
        assert!(
            p[0].starts_with("ci/config.yaml:1:10: invalid YAML"),
            "{p:?}"
        );
        let p = problems("", &Overrides::default());
        assert!(p[0].contains("the file is empty"), "{p:?}");
        let p = problems("- a\n", &Overrides::default());
        assert!(p[0].contains("expected a mapping, found a list"), "{p:?}");
        let p = problems("build:\n  tag: x\n", &Overrides::default());
        assert!(p[0].contains("required key `service` is missing"), "{p:?}");
    }

    #[test]
    fn missing_file_needs_both_flags() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path(), &Overrides::default()).unwrap_err();
        assert!(
            err.to_string().contains("ci/config.yaml: not found"),
            "{err}"
        );
        let o = Overrides {
            service: Some("my-svc".into()),
            namespace: Some("team-a".into()),
            timeout: None,
        };
        let c = load(dir.path(), &o).unwrap();
        assert_eq!(c.name, "my-svc");
        assert!(c.file.is_none());
        let bad = Overrides {
            service: Some("My_Svc".into()),
            ..o
        };
        let err = load(dir.path(), &bad).unwrap_err();
        assert!(
            err.to_string().starts_with("--service: must be a DNS-1123"),
            "{err}"
        );
    }

    #[test]
    fn the_test_and_migration_jobs_are_read() {
        let c = parse_ok(
            "service: {name: svc, namespace: team-a}\n\
             test: {timeout: 90, command: [pytest, -x], path: tests/integration}\n\
             migrations: {command: [alembic, upgrade, head], timeout: 45}\n",
        );
        assert_eq!(c.test.timeout, Duration::from_secs(90));
        assert_eq!(c.test.command, ["pytest", "-x"]);
        assert_eq!(c.test.path.as_deref(), Some("tests/integration"));
        let m = c.migrations.unwrap();
        assert_eq!(m.command, ["alembic", "upgrade", "head"]);
        assert_eq!(m.timeout, Duration::from_secs(45));

        let c = parse_ok("service: {name: svc, namespace: team-a}\n");
        assert_eq!(c.test, TestConfig::default());
        assert!(c.migrations.is_none());
    }

    #[test]
    fn a_migration_job_needs_a_command() {
        let base = "service: {name: svc, namespace: team-a}\n";
        for (tail, want) in [
            (
                "migrations: {timeout: 30}\n",
                "ci/config.yaml:2:13: migrations: required key `command` is missing",
            ),
            (
                "migrations: {command: []}\n",
                "ci/config.yaml:2:23: migrations.command: expected at least one word",
            ),
            (
                "migrations: {command: alembic}\n",
                "ci/config.yaml:2:23: migrations.command: expected a list",
            ),
            (
                "test: {command: [pytest], shell: bash}\n",
                "ci/config.yaml:2:27: test.shell",
            ),
        ] {
            let p = problems(&format!("{base}{tail}"), &Overrides::default());
            assert!(
                p.iter().any(|m| m.starts_with(want)),
                "{tail}: want {want}, got {p:?}"
            );
        }
    }
}
