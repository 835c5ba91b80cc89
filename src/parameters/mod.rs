//! `kubectl zt secrets push`: the platform's secrets from the environment into AWS SSM
//! Parameter Store, where its ExternalSecrets (the `aws-parameter-store` ClusterSecretStore) read
//! them.
//!
//! The data flow: a [`mapping`] (the tenant repository's `parameters.yaml`, or the built-in one)
//! says which environment variable goes to which path; [`resolve`] fills it in from the
//! environment (every unset variable reported at once); [`push`] reads the current values and
//! writes only what differs, as `SecureString`, through a [`push::Store`] — [`ssm::Ssm`], the
//! official AWS SDK. Values live only in memory as [`crate::secret::SecretString`]: no file on
//! disk, no value in any output or error.

pub mod error;
pub mod mapping;
pub mod names;
pub mod push;
pub mod resolve;
pub mod ssm;

pub use error::PushError;
pub use mapping::Mapping;
pub use push::{Outcome, push};
pub use resolve::{Parameter, Plan, ResolveError, Skipped, resolve};
