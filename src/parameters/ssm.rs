//! AWS SSM Parameter Store through the official AWS SDK for Rust: credentials from the standard
//! chain (environment with session token, profiles, SSO, OIDC web identity, container and
//! instance metadata), the region chosen here, and an HTTPS client on rustls with ring (the
//! SDK's default client would build aws-lc-sys, a C/CMake dependency).

use std::collections::BTreeMap;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::types::ParameterType;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::secret::SecretString;

use super::error::PushError;
use super::push::{Current, Store};

/// The region when neither `--region` nor `AWS_REGION` says otherwise (the platform's
/// ClusterSecretStore reads ap-south-1).
pub const DEFAULT_REGION: &str = "ap-south-1";

/// Attempts per call, the first included. Throttling and transient faults are retried with the
/// SDK's standard exponential backoff; three keeps a throttled push under a few seconds.
pub const MAX_ATTEMPTS: u32 = 3;

/// GetParameters takes at most ten names per call.
const GET_BATCH: usize = 10;

/// Where to push.
#[derive(Debug, Clone)]
pub struct Target {
    pub region: String,
    /// Another endpoint than AWS's (tests, LocalStack, VPC endpoints). Without it the SDK still
    /// honours `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_SSM`.
    pub endpoint_url: Option<String>,
}

impl Target {
    /// What messages call the endpoint.
    pub fn endpoint(&self) -> String {
        self.endpoint_url
            .clone()
            .unwrap_or_else(|| format!("https://ssm.{}.amazonaws.com", self.region))
    }
}

/// The region: the flag, else `AWS_REGION`, else [`DEFAULT_REGION`]. A set but empty
/// `AWS_REGION` (a CI variable that expanded to nothing) is an error rather than a silent
/// default.
pub fn region(flag: Option<&str>, env: Option<&str>) -> Result<String, PushError> {
    let r = match (flag, env) {
        (Some(f), _) => f,
        (None, Some("")) => return Err(PushError::EmptyRegion),
        (None, Some(e)) => e,
        (None, None) => DEFAULT_REGION,
    };
    let ok = !r.is_empty()
        && r.len() <= 40
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !r.starts_with('-')
        && !r.ends_with('-');
    if ok {
        Ok(r.to_string())
    } else {
        Err(PushError::BadRegion(crate::diag::clip(r).into_owned()))
    }
}

/// A Parameter Store client.
pub struct Ssm {
    client: aws_sdk_ssm::Client,
    target: Target,
    /// For [`PushError::Denied`]'s hint.
    prefix: String,
}

impl Ssm {
    /// Configures the client. Nothing is contacted and no credential is looked up until the
    /// first call.
    pub async fn new(target: Target, prefix: &str) -> Ssm {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(target.region.clone()))
            .http_client(http)
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(url) = &target.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        Ssm {
            client: aws_sdk_ssm::Client::new(&config),
            target,
            prefix: prefix.to_string(),
        }
    }

    fn error<E>(
        &self,
        operation: &'static str,
        name: Option<&str>,
        value: Option<&SecretString>,
        e: SdkError<E, aws_sdk_ssm::config::http::HttpResponse>,
    ) -> PushError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let scrub = |text: &str| scrub(text, value);
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.code().map(str::to_string);
        let message = scrub(e.message().unwrap_or_default());
        if let Some(detail) = credentials_problem(&e) {
            return PushError::NoCredentials {
                operation,
                detail: scrub(&detail),
            };
        }
        match &e {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                return PushError::Unreachable {
                    operation,
                    endpoint: self.target.endpoint(),
                    detail: scrub(&crate::diag::error_chain(&e)),
                };
            }
            _ => {}
        }
        let code_or_status = code
            .clone()
            .or(status.map(|s| format!("HTTP {s}")))
            .unwrap_or_else(|| "no error code".into());
        let message = if message.is_empty() {
            scrub(&crate::diag::error_chain(&e))
        } else {
            message
        };
        match code.as_deref() {
            Some(
                "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "InvalidSignatureException"
                | "SignatureDoesNotMatch"
                | "IncompleteSignature"
                | "MissingAuthenticationToken"
                | "ExpiredTokenException"
                | "ExpiredToken",
            ) => PushError::Refused {
                operation,
                code: code_or_status,
                message,
            },
            Some("AccessDeniedException" | "AccessDenied") => PushError::Denied {
                operation,
                code: code_or_status,
                message,
                prefix: self.prefix.clone(),
            },
            // The codes the SDK's standard retry treats as throttling, so "each attempt" is
            // true (SSM's TooManyUpdates is not among them: it stays a service error by name).
            Some(
                "ThrottlingException"
                | "Throttling"
                | "RequestLimitExceeded"
                | "TooManyRequestsException",
            ) => PushError::Throttled {
                operation,
                code: code_or_status,
                attempts: MAX_ATTEMPTS,
            },
            // An error body the SDK cannot read (some endpoints answer authentication failures
            // in another protocol): the status still says what happened.
            None if status == Some(403) => PushError::Refused {
                operation,
                code: code_or_status,
                message,
            },
            _ => PushError::Service {
                operation,
                name: name.map(str::to_string),
                code: code_or_status,
                message,
            },
        }
    }
}

/// The credential provider's error, when that is why the call failed.
fn credentials_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return Some(crate::diag::error_chain(err));
        }
        cur = err.source();
    }
    None
}

/// AWS messages may quote what was sent (`Value '...' at 'value' failed to satisfy
/// constraint`): the value being written and every single-quoted span go.
fn scrub(text: &str, value: Option<&SecretString>) -> String {
    let mut out = text.to_string();
    if let Some(v) = value
        && !v.is_empty()
    {
        out = out.replace(v.expose(), crate::secret::REDACTED);
    }
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(start) = rest.find("Value '") {
        result.push_str(&rest[..start + "Value ".len()]);
        let after = &rest[start + "Value '".len()..];
        match after.find('\'') {
            Some(end) => {
                result.push_str(crate::secret::REDACTED);
                rest = &after[end + 1..];
            }
            None => {
                result.push_str(crate::secret::REDACTED);
                rest = "";
            }
        }
    }
    result.push_str(rest);
    result
}

impl Store for Ssm {
    async fn current(&self, names: &[String]) -> Result<BTreeMap<String, Current>, PushError> {
        let mut out = BTreeMap::new();
        for batch in names.chunks(GET_BATCH) {
            let resp = self
                .client
                .get_parameters()
                .set_names(Some(batch.to_vec()))
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| self.error("GetParameters", None, None, e))?;
            for p in resp.parameters() {
                if let (Some(name), Some(value)) = (p.name(), p.value()) {
                    out.insert(
                        name.to_string(),
                        Current {
                            value: SecretString::new(value),
                            secure: p.r#type() == Some(&ParameterType::SecureString),
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    async fn put(
        &self,
        name: &str,
        value: &SecretString,
        overwrite: bool,
    ) -> Result<(), PushError> {
        self.client
            .put_parameter()
            .name(name)
            .value(value.expose())
            .r#type(ParameterType::SecureString)
            .overwrite(overwrite)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error("PutParameter", Some(name), Some(value), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_the_flag_then_aws_region_then_the_default() {
        assert_eq!(region(None, None).unwrap(), "ap-south-1");
        assert_eq!(region(None, Some("eu-west-1")).unwrap(), "eu-west-1");
        assert_eq!(
            region(Some("us-east-2"), Some("eu-west-1")).unwrap(),
            "us-east-2"
        );
        assert!(matches!(
            region(None, Some("")),
            Err(PushError::EmptyRegion)
        ));
        assert!(matches!(
            region(None, Some("ap south 1")),
            Err(PushError::BadRegion(_))
        ));
        assert!(matches!(
            region(Some(""), None),
            Err(PushError::BadRegion(_))
        ));
    }

    #[test]
    fn quoted_values_and_the_value_sent_are_scrubbed_from_aws_messages() {
        let v = SecretString::new("hunter2-token");
        let m = scrub(
            "1 validation error detected: Value 'hunter2-token' at 'value' failed; also hunter2-token",
            Some(&v),
        );
        assert!(!m.contains("hunter2"), "{m}");
        assert!(m.contains("Value <redacted> at 'value' failed"), "{m}");
    }
}
