//! Why a push failed, in terms a user can act on. Messages name parameters, operations and AWS
//! error codes; never a value.

/// A failed push (or the set-up for one). The mapping's own problems are
/// [`super::resolve::ResolveError`] and `file:line:col` diagnostics, reported before this.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(
        "AWS_REGION is set but empty; unset it for the default region ({default}) or set a region such as ap-south-1",
        default = super::ssm::DEFAULT_REGION
    )]
    EmptyRegion,

    #[error(
        "`{0}` is not an AWS region name (lower-case letters, digits and `-`, like ap-south-1)"
    )]
    BadRegion(String),

    #[error(
        "no AWS credentials found for ssm:{operation}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN for temporary ones), AWS_PROFILE, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE (CI's OIDC role)\n  caused by: {detail}"
    )]
    NoCredentials {
        operation: &'static str,
        detail: String,
    },

    #[error(
        "AWS refused the credentials for ssm:{operation} ({code}): {message}\n  the credentials the standard chain found are not valid here: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN (expired?), AWS_PROFILE, or the CI's OIDC role"
    )]
    Refused {
        operation: &'static str,
        code: String,
        message: String,
    },

    #[error(
        "AWS denied ssm:{operation} ({code}): {message}\n  the identity needs ssm:GetParameters and ssm:PutParameter on {prefix}/*, and kms:Decrypt/kms:Encrypt on the key of its SecureStrings"
    )]
    Denied {
        operation: &'static str,
        code: String,
        message: String,
        prefix: String,
    },

    #[error(
        "AWS throttled ssm:{operation} ({code}) on each of {attempts} attempts; wait a minute and run again (a rerun writes only what is still different)"
    )]
    Throttled {
        operation: &'static str,
        code: String,
        attempts: u32,
    },

    #[error("cannot reach Parameter Store at {endpoint} for ssm:{operation}: {detail}")]
    Unreachable {
        operation: &'static str,
        endpoint: String,
        detail: String,
    },

    #[error("Parameter Store refused ssm:{operation}{on} ({code}): {message}", on = .name.as_ref().map(|n| format!(" for {n}")).unwrap_or_default())]
    Service {
        operation: &'static str,
        name: Option<String>,
        code: String,
        message: String,
    },
}
