//! `kubectl zt secrets push` through the CLI against moto's Parameter Store in server mode
//! (tests/support/src/moto.rs; skipped with one line when moto is not installed). What moto
//! stores is read back with boto3 (moto's own dependency), an independent client: names, types,
//! decrypted values and version numbers (an unchanged parameter must not get a new version).
//!
//! Faults moto does not produce on demand (throttling) come from a small HTTP double in this
//! file; the cases that must contact nothing (dry run, missing variables, bad region, no
//! credentials) point the endpoint at a listener that counts connections.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use zt_test_support::cli::{self, text};
use zt_test_support::moto::{Moto, moto_or_skip};

const USER: &str = "zt-bot-user";
const TOKEN: &str = "ghp_FirstTokenValue0123456789";
const TOKEN_2: &str = "ghp_SecondTokenValue9876543210";
const OPENAI: &str = "sk-openai-Secret-Value-42";

/// The variables of the AWS SDK's configuration chain a test might inherit from the machine.
const AWS_VARIABLES: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];

/// `kubectl-zt secrets push ARGS` in `dir` with exactly `env` set: no AWS configuration from the
/// machine (HOME is `dir`, so no ~/.aws), no instance metadata lookups.
fn push(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c: Command = cli::command(env!("CARGO_BIN_EXE_kubectl-zt"), dir, &[]);
    c.args(["secrets", "push"]).args(args);
    for k in AWS_VARIABLES {
        c.env_remove(k);
    }
    c.env("HOME", dir)
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("running kubectl-zt")
}

/// Fake static credentials: moto accepts any unless told to check them.
const AWS_KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKIAZTTESTKEY000001"),
    ("AWS_SECRET_ACCESS_KEY", "zt-test-secret-access-key-value"),
];

fn platform_env(token: &str) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&str, String)> = vec![
        ("BOT_GITHUB_USERNAME", USER.into()),
        ("BOT_GITHUB_TOKEN", token.into()),
        ("TENANTS_REPO_NAME", "acme/zerotouch-tenants".into()),
        ("OPENAI_API_KEY", OPENAI.into()),
    ];
    env.extend(AWS_KEYS.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Output with no value of `secrets` anywhere in stdout or stderr.
fn assert_no_values(out: &Output, secrets: &[&str]) {
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    for s in secrets {
        assert!(!all.contains(s), "a secret value was printed:\n{all}");
    }
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn failed(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

/// Every parameter under `prefix` in `region`, as moto holds it: name → (type, value, version).
fn stored(moto: &Moto, region: &str, prefix: &str) -> Vec<(String, String, String, i64)> {
    let script = r#"
import json, sys, boto3
c = boto3.client("ssm", endpoint_url=sys.argv[1], region_name=sys.argv[2],
                 aws_access_key_id="AKIAZTTESTKEY000001", aws_secret_access_key="x")
out = []
for page in c.get_paginator("get_parameters_by_path").paginate(Path=sys.argv[3], Recursive=True, WithDecryption=True):
    out += [[p["Name"], p["Type"], p["Value"], p["Version"]] for p in page["Parameters"]]
print(json.dumps(sorted(out)))
"#;
    let out = Command::new("python3")
        .args(["-c", script, &moto.url(), region, prefix])
        .output()
        .expect("running python3 with boto3");
    assert!(out.status.success(), "boto3: {}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON from boto3");
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
                p[2].as_str().unwrap().to_string(),
                p[3].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Lines of stdout as `(outcome, path)`.
fn outcomes(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .map(|l| {
            let mut parts = l.split_whitespace();
            (
                parts.next().unwrap_or_default().to_string(),
                parts.next().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn first_push_creates_a_rerun_changes_nothing_and_a_new_token_updates_only_its_paths() {
    let Some(moto) = moto_or_skip("secrets push against moto", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = moto.url();
    let args = ["--endpoint-url", url.as_str()];
    let env = platform_env(TOKEN);
    let secrets = [TOKEN, TOKEN_2, OPENAI, AWS_KEYS[1].1];

    // No AWS_REGION: the default region, ap-south-1.
    let first = push(dir.path(), &args, &pairs(&env));
    let stdout = ok(&first);
    assert_no_values(&first, &secrets);
    let p = "/zerotouch/prod";
    let expected_paths = [
        format!("{p}/github/username"),
        format!("{p}/github/token"),
        format!("{p}/ghcr/username"),
        format!("{p}/ghcr/password"),
        format!("{p}/argocd/repos/zerotouch-tenants/url"),
        format!("{p}/argocd/repos/zerotouch-tenants/username"),
        format!("{p}/argocd/repos/zerotouch-tenants/password"),
        format!("{p}/openai_api_key"),
    ];
    let got = outcomes(&stdout);
    assert_eq!(
        got,
        expected_paths
            .iter()
            .map(|n| ("created".to_string(), n.clone()))
            .collect::<Vec<_>>()
    );
    let stderr = text(&first.stderr);
    assert!(
        stderr.contains(
            "skipped /zerotouch/prod/anthropic_api_key (optional; not set: ANTHROPIC_API_KEY)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("in ap-south-1"), "{stderr}");

    let params = stored(&moto, "ap-south-1", p);
    let want = |name: &str, value: &str| {
        let found = params.iter().find(|x| x.0 == format!("{p}/{name}"));
        assert_eq!(
            found.map(|x| (x.1.as_str(), x.2.as_str(), x.3)),
            Some(("SecureString", value, 1)),
            "{name} in {params:?}"
        );
    };
    want("github/username", USER);
    want("github/token", TOKEN);
    want("ghcr/password", TOKEN);
    want(
        "argocd/repos/zerotouch-tenants/url",
        "https://github.com/acme/zerotouch-tenants.git",
    );
    want("argocd/repos/zerotouch-tenants/password", TOKEN);
    want("openai_api_key", OPENAI);
    assert_eq!(params.len(), expected_paths.len(), "{params:?}");

    // A rerun reads, finds everything equal, and writes nothing (no new versions). The endpoint
    // comes from AWS_ENDPOINT_URL this time, as the SDK's own configuration allows.
    let mut env_url = pairs(&env);
    env_url.push(("AWS_ENDPOINT_URL", url.as_str()));
    let second = push(dir.path(), &[], &env_url);
    let got = outcomes(&ok(&second));
    assert_no_values(&second, &secrets);
    assert!(got.iter().all(|(o, _)| o == "unchanged"), "{got:?}");
    assert_eq!(got.len(), expected_paths.len());
    assert!(stored(&moto, "ap-south-1", p).iter().all(|x| x.3 == 1));

    // A new token: exactly the three parameters that hold it are updated.
    let env2 = platform_env(TOKEN_2);
    let third = push(dir.path(), &args, &pairs(&env2));
    let got = outcomes(&ok(&third));
    assert_no_values(&third, &secrets);
    let updated: Vec<&str> = got
        .iter()
        .filter(|(o, _)| o == "updated")
        .map(|(_, n)| n.as_str())
        .collect();
    assert_eq!(
        updated,
        [
            "/zerotouch/prod/github/token",
            "/zerotouch/prod/ghcr/password",
            "/zerotouch/prod/argocd/repos/zerotouch-tenants/password"
        ]
    );
    assert_eq!(got.iter().filter(|(o, _)| o == "unchanged").count(), 5);
    let after = stored(&moto, "ap-south-1", p);
    let token = after
        .iter()
        .find(|x| x.0.ends_with("/github/token"))
        .unwrap();
    assert_eq!((token.2.as_str(), token.3), (TOKEN_2, 2));
    let user = after
        .iter()
        .find(|x| x.0.ends_with("/github/username"))
        .unwrap();
    assert_eq!(user.3, 1);
}

#[test]
fn a_tenant_repo_mapping_with_prefix_and_region_goes_where_it_says() {
    let Some(moto) = moto_or_skip("secrets push with a tenant mapping", &[]) else {
        return;
    };
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join("parameters.yaml"),
        "prefix: /ignored/by-flag\nparameters:\n  - path: ide-orchestrator/jwt-secret\n    value: ${IDEO_JWT_SECRET}\n  - path: bot\n    value: user=${BOT_GITHUB_USERNAME}\n",
    )
    .unwrap();
    let url = moto.url();
    let mut env = vec![
        ("IDEO_JWT_SECRET", "jwt-Secret-Value-77"),
        ("BOT_GITHUB_USERNAME", USER),
    ];
    env.extend(AWS_KEYS);
    env.push(("AWS_REGION", "eu-west-1"));
    let tenant = repo.path().to_str().unwrap();
    let out = push(
        repo.path(),
        &[
            "--tenant-repo",
            tenant,
            "--prefix",
            "/zerotouch/dev",
            "--endpoint-url",
            &url,
        ],
        &env,
    );
    let got = outcomes(&ok(&out));
    assert_no_values(&out, &["jwt-Secret-Value-77"]);
    assert_eq!(
        got,
        [
            (
                "created".into(),
                "/zerotouch/dev/ide-orchestrator/jwt-secret".into()
            ),
            ("created".into(), "/zerotouch/dev/bot".into())
        ]
    );
    let params = stored(&moto, "eu-west-1", "/zerotouch/dev");
    assert_eq!(params[0].0, "/zerotouch/dev/bot");
    assert_eq!(params[0].2, format!("user={USER}"));
    assert_eq!(params[1].2, "jwt-Secret-Value-77");
    // Nothing went to the default region.
    assert!(stored(&moto, "ap-south-1", "/zerotouch").is_empty());
}

#[test]
fn refused_credentials_are_a_clear_error_and_no_value_is_printed() {
    // INITIAL_NO_AUTH_ACTION_COUNT=0: moto checks every request's access key against its IAM,
    // which knows none, as AWS refuses a revoked or mistyped key.
    let Some(moto) = moto_or_skip(
        "secrets push with refused credentials",
        &[("INITIAL_NO_AUTH_ACTION_COUNT", "0")],
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = platform_env(TOKEN);
    let out = push(dir.path(), &["--endpoint-url", &moto.url()], &pairs(&env));
    let stderr = failed(&out);
    assert_no_values(&out, &[TOKEN, OPENAI, AWS_KEYS[1].1]);
    assert!(
        stderr.contains("AWS refused the credentials for ssm:GetParameters"),
        "{stderr}"
    );
    assert!(stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
    assert!(text(&out.stdout).is_empty(), "nothing was pushed");
}

/// A Parameter Store double: answers every request with `status` and an awsJson error `code`,
/// counting requests. Each connection is closed after one answer.
fn error_double(status: u16, code: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            seen.fetch_add(1, Ordering::SeqCst);
            let payload = format!(r#"{{"__type":"{code}","message":"Rate exceeded"}}"#);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Error\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: zt-test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
                payload.len()
            );
        }
    });
    (url, count)
}

#[test]
fn a_throttled_call_is_retried_then_reported_clearly() {
    let (url, requests) = error_double(400, "ThrottlingException");
    let dir = tempfile::tempdir().unwrap();
    let env = platform_env(TOKEN);
    let out = push(dir.path(), &["--endpoint-url", &url], &pairs(&env));
    let stderr = failed(&out);
    assert_no_values(&out, &[TOKEN, OPENAI]);
    assert!(
        stderr.contains(
            "AWS throttled ssm:GetParameters (ThrottlingException) on each of 3 attempts"
        ),
        "{stderr}"
    );
    assert_eq!(
        requests.load(Ordering::SeqCst),
        3,
        "the SDK retried, then gave up"
    );
}

/// A listener that counts connections, for the runs that must contact nothing.
fn counting_listener() -> (String, TcpListener) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    (format!("http://{}", l.local_addr().unwrap()), l)
}

fn contacted(l: &TcpListener) -> bool {
    l.accept().is_ok()
}

#[test]
fn dry_run_lists_paths_and_sources_and_contacts_nothing() {
    let (url, listener) = counting_listener();
    let dir = tempfile::tempdir().unwrap();
    let env = platform_env(TOKEN);
    let out = push(
        dir.path(),
        &["--dry-run", "--endpoint-url", &url],
        &pairs(&env),
    );
    let stdout = ok(&out);
    assert_no_values(&out, &[TOKEN, OPENAI, USER]);
    assert!(
        stdout.contains("/zerotouch/prod/github/token  (from BOT_GITHUB_TOKEN)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "/zerotouch/prod/argocd/repos/zerotouch-tenants/url  (from TENANTS_REPO_URL)\n"
        ),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 8, "{stdout}");
    assert!(text(&out.stderr).contains("nothing was contacted"));
    assert!(!contacted(&listener));
}

#[test]
fn every_missing_variable_is_named_at_once_before_anything_is_sent() {
    let (url, listener) = counting_listener();
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![("BOT_GITHUB_TOKEN", TOKEN)];
    env.extend(AWS_KEYS);
    let out = push(dir.path(), &["--endpoint-url", &url], &env);
    let stderr = failed(&out);
    assert_no_values(&out, &[TOKEN]);
    assert!(
        stderr.contains(
            "these environment variables are not set: BOT_GITHUB_USERNAME, TENANTS_REPO_NAME"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    assert!(!contacted(&listener));
}

#[test]
fn an_empty_region_and_missing_credentials_are_clear_errors() {
    let (url, listener) = counting_listener();
    let dir = tempfile::tempdir().unwrap();
    let env = platform_env(TOKEN);
    let mut with_empty_region = pairs(&env);
    with_empty_region.push(("AWS_REGION", ""));
    let out = push(dir.path(), &["--endpoint-url", &url], &with_empty_region);
    let stderr = failed(&out);
    assert!(
        stderr
            .contains("AWS_REGION is set but empty; unset it for the default region (ap-south-1)"),
        "{stderr}"
    );
    assert!(!contacted(&listener));

    // No credentials anywhere in the chain (no keys, no profile files, no metadata service).
    let no_keys: Vec<(&str, &str)> = pairs(&env)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_"))
        .collect();
    let out = push(dir.path(), &["--endpoint-url", &url], &no_keys);
    let stderr = failed(&out);
    assert_no_values(&out, &[TOKEN, OPENAI]);
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
    assert!(!contacted(&listener), "nothing is sent unsigned");
}

#[test]
fn a_bad_mapping_file_is_reported_at_its_position() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join("parameters.yaml"),
        "parameters:\n  - path: a\n    value: ${A}\n    type: String\n",
    )
    .unwrap();
    let out = push(
        repo.path(),
        &["--tenant-repo", repo.path().to_str().unwrap(), "--dry-run"],
        &[("A", "x")],
    );
    let stderr = failed(&out);
    assert!(
        stderr.contains("parameters.yaml:4:5: parameters[0].type: unknown key `type`"),
        "{stderr}"
    );
}

#[test]
fn the_standard_credential_chain_finds_profiles_and_ci_web_identity() {
    let Some(moto) = moto_or_skip("secrets push through the credential chain", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = moto.url();
    let base = [
        ("BOT_GITHUB_USERNAME", USER),
        ("BOT_GITHUB_TOKEN", TOKEN),
        ("TENANTS_REPO_NAME", "zerotouch-tenants"),
        ("AWS_ENDPOINT_URL", url.as_str()),
    ];

    // A named profile in the shared credentials file (push() points AWS_SHARED_CREDENTIALS_FILE
    // at dir/no-aws-credentials).
    std::fs::write(
        dir.path().join("no-aws-credentials"),
        "[zt-ci]\naws_access_key_id = AKIAZTPROFILE0001\naws_secret_access_key = zt-profile-secret-value\n",
    )
    .unwrap();
    let mut env = base.to_vec();
    env.push(("AWS_PROFILE", "zt-ci"));
    let out = push(dir.path(), &[], &env);
    let got = outcomes(&ok(&out));
    assert_no_values(&out, &[TOKEN, "zt-profile-secret-value"]);
    assert_eq!(got.len(), 7, "{got:?}");
    assert!(got.iter().all(|(o, _)| o == "created"), "{got:?}");
    std::fs::remove_file(dir.path().join("no-aws-credentials")).unwrap();

    // CI's OIDC role: a web identity token file and a role ARN; the SDK trades them at STS
    // (moto's, through AWS_ENDPOINT_URL) for temporary credentials with a session token.
    let token_file = dir.path().join("oidc-token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.zt-oidc-token.sig").unwrap();
    let mut env = base.to_vec();
    env.push(("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/zt-ci"));
    env.push(("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()));
    env.push(("AWS_ROLE_SESSION_NAME", "zt-test"));
    let out = push(dir.path(), &[], &env);
    let got = outcomes(&ok(&out));
    assert_no_values(&out, &[TOKEN, "zt-oidc-token"]);
    assert!(got.iter().all(|(o, _)| o == "unchanged"), "{got:?}");
}

#[test]
fn mapping_names_a_file_anywhere_and_a_missing_one_is_clear() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("platform-parameters.yaml");
    std::fs::write(
        &file,
        "prefix: /zerotouch/staging\nparameters:\n  - path: ide-orchestrator/spec-engine-url\n    value: https://${SPEC_HOST}/v1\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = push(
        dir.path(),
        &["--mapping", f, "--dry-run"],
        &[("SPEC_HOST", "spec.example")],
    );
    assert_eq!(
        ok(&out),
        "/zerotouch/staging/ide-orchestrator/spec-engine-url  (from SPEC_HOST)\n"
    );
    let missing = dir.path().join("nope.yaml");
    let out = push(
        dir.path(),
        &["--mapping", missing.to_str().unwrap(), "--dry-run"],
        &[],
    );
    let stderr = failed(&out);
    assert!(stderr.contains("nope.yaml: not found"), "{stderr}");
}
