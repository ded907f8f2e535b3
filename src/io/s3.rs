//! The one way tracecost builds an S3 client (R2, or any S3-compatible
//! store): the mirror's source reads Logpush objects with it, `publish`
//! writes Iceberg tables' files with it.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::{Credentials, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::Client;

/// What a client is built from; what is left out comes from the standard
/// AWS chain (environment, profile), as the AWS tools take it. Never print
/// one with `{:?}`: it shows a vended key id (the secret is redacted).
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub region: String,
    pub endpoint: Option<String>,
    pub profile: Option<String>,
    pub path_style: bool,
    /// Keys handed over by a catalog (never printed: `Credentials` redacts them).
    pub credentials: Option<Credentials>,
    pub retry: RetryConfig,
}

pub async fn client(spec: ClientSpec) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(spec.region))
        .retry_config(spec.retry)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(60))
                .operation_attempt_timeout(Duration::from_secs(300))
                .build(),
        );
    if let Some(p) = &spec.profile {
        loader = loader.profile_name(p);
    }
    if let Some(e) = &spec.endpoint {
        loader = loader.endpoint_url(e);
    }
    if let Some(c) = spec.credentials {
        loader = loader.credentials_provider(c);
    }
    let shared = loader.load().await;
    // R2 and other S3-compatible stores reject the SDK's default checksums.
    let conf = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(spec.path_style)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    Client::from_conf(conf)
}
