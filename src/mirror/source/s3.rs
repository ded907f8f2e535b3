//! Source `s3`: a Logpush archive in R2 (or any S3-compatible store).
//!
//! Lists only the date folders the window needs (following pagination),
//! fetches each new or changed object whole, checked against its
//! Content-Length, with retries and jittered exponential backoff on
//! throttling, 5xx, timeouts and dropped connections, then hands the bytes to
//! the same ingest as local files. Credentials come from the standard AWS
//! chain and never appear in any message.

use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use aws_config::retry::RetryConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;
use serde::Deserialize;

use super::{folder_date, Listing, ObjectRef, ObjectSource};
use crate::core::redact::{has_userinfo, redact_userinfo};
use crate::core::window::Window;
use crate::io::s3::ClientSpec;
use crate::lake::delivery::{Delivered, DeliverySource};
use crate::stats::rng::{stream_id, Rng};

/// `[source]` fields that only S3 sources use.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct S3Section {
    /// Endpoint URL, e.g. `https://<ACCOUNT_ID>.r2.cloudflarestorage.com`.
    pub endpoint: Option<String>,
    /// Cloudflare account id: builds the R2 endpoint.
    pub account_id: Option<String>,
    /// Region (default `auto`, as R2 expects).
    pub region: Option<String>,
    /// AWS profile to take credentials from (never the secret itself).
    pub profile: Option<String>,
    /// Virtual-hosted-style addressing instead of path style.
    pub virtual_hosted: Option<bool>,
    /// Objects fetched at once (default 8).
    pub concurrency: Option<usize>,
    /// Attempts per request before giving up (default 6).
    pub max_attempts: Option<u32>,
    /// First backoff in milliseconds, doubled per attempt, with full jitter (default 200).
    pub retry_base_ms: Option<u64>,
    /// Largest object read (default 32 MiB): an object is held in memory
    /// while it is fetched, `concurrency` at a time. Larger ones are skipped
    /// and listed.
    pub max_object_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct S3Options {
    pub endpoint: Option<String>,
    pub region: String,
    pub profile: Option<String>,
    pub path_style: bool,
    pub concurrency: usize,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub max_object_bytes: u64,
}

impl S3Section {
    fn max_object_bytes(&self) -> u64 {
        self.max_object_bytes.unwrap_or(32 << 20)
    }

    pub fn options(&self) -> Result<S3Options> {
        if self.max_object_bytes() < 1024 {
            bail!(
                "[source.s3] max_object_bytes = {}: give at least 1024 bytes (default 32 MiB)",
                self.max_object_bytes()
            );
        }
        let endpoint = match (&self.endpoint, &self.account_id) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(id)) => {
                if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    bail!("account id `{id}` is not a Cloudflare account id (letters and digits only)");
                }
                Some(format!("https://{id}.r2.cloudflarestorage.com"))
            }
            (None, None) => None,
        };
        if let Some(e) = &endpoint {
            check_endpoint("--endpoint (or [source.s3] endpoint)", e)?;
        }
        let env_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        for var in ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"] {
            if let Some(e) = std::env::var_os(var) {
                check_endpoint(var, &e.to_string_lossy())?;
            }
        }
        if endpoint.is_none() && !env_endpoint {
            bail!("no S3 endpoint: pass --account-id (R2) or --endpoint URL, or set AWS_ENDPOINT_URL_S3");
        }
        Ok(S3Options {
            endpoint,
            region: self.region.clone().unwrap_or_else(|| "auto".into()),
            profile: self.profile.clone(),
            path_style: !self.virtual_hosted.unwrap_or(false),
            concurrency: self.concurrency.unwrap_or(8).max(1),
            max_attempts: self.max_attempts.unwrap_or(6).max(1),
            retry_base: Duration::from_millis(self.retry_base_ms.unwrap_or(200)),
            max_object_bytes: self.max_object_bytes(),
        })
    }
}

/// An endpoint is an http(s) URL without a user name or password: requests
/// are signed with the AWS chain's keys, and a password in the URL would be
/// printed wherever the endpoint is.
fn check_endpoint(what: &str, endpoint: &str) -> Result<()> {
    let shown = redact_userinfo(endpoint);
    if has_userinfo(endpoint) {
        bail!("{what} `{shown}` holds a user name or password: remove it from the URL; the keys come from the AWS chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile)");
    }
    if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
        bail!("{what} `{shown}` is not an http:// or https:// URL");
    }
    Ok(())
}

pub struct S3Source {
    runtime: tokio::runtime::Runtime,
    client: Client,
    bucket: String,
    prefix: String,
    options: S3Options,
    /// Where the bucket is, for messages (never a credential).
    place: String,
}

/// The backoff jitter of one retry loop, a stream of the one RNG
/// (stats::rng) named by the loop's target and numbered by a count of loops,
/// from a seed drawn once per process from the clock and the process id: so
/// that processes and fetches that fail together do not retry together.
fn retry_jitter(what: &str) -> Rng {
    static SEED: OnceLock<u64> = OnceLock::new();
    static LOOPS: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH);
        let nanos = now.map_or(0, |d| d.as_nanos() as u64);
        nanos ^ u64::from(std::process::id()).rotate_left(32)
    });
    let loops = LOOPS.fetch_add(1, Ordering::Relaxed);
    Rng::derive(seed, stream_id(&["s3 retry jitter", what]), loops)
}

/// Why a request failed, and whether trying again may help.
enum Failure {
    Transient(String),
    Fatal(String),
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: SdkError<E>,
    place: &str,
) -> Failure {
    match &err {
        SdkError::TimeoutError(_) => Failure::Transient(format!("{place}: timed out")),
        SdkError::DispatchFailure(f) => {
            let why = DisplayErrorContext(&err).to_string().replace('\n', " ");
            if f.is_user() {
                Failure::Fatal(format!("{place}: {why}"))
            } else {
                Failure::Transient(format!("{place}: cannot connect ({})", last_cause(&why)))
            }
        }
        SdkError::ResponseError(_) => {
            Failure::Transient(format!("{place}: connection dropped during the response"))
        }
        SdkError::ServiceError(e) => {
            let status = e.raw().status().as_u16();
            let code = err.code().unwrap_or("");
            let message = err.message().unwrap_or("");
            let text = format!("{place}: HTTP {status} {code} {message}")
                .trim_end()
                .to_string();
            if status == 429 || status >= 500 || code == "SlowDown" {
                Failure::Transient(text)
            } else {
                Failure::Fatal(match (status, code) {
                    (403, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied") | (401, _) => format!(
                        "{text}: the credentials were refused; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the profile) for this bucket"
                    ),
                    (404, "NoSuchBucket") => format!("{text}: check the bucket name in the source"),
                    _ => text,
                })
            }
        }
        _ => {
            let why = DisplayErrorContext(&err).to_string();
            if why.contains("credentials") {
                Failure::Fatal(format!(
                    "{place}: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile ({})",
                    last_cause(&why)
                ))
            } else {
                Failure::Fatal(format!("{place}: {}", last_cause(&why)))
            }
        }
    }
}

/// The innermost cause of an SDK error chain, which says what happened.
fn last_cause(chain: &str) -> String {
    chain
        .rsplit(": ")
        .next()
        .unwrap_or(chain)
        .trim()
        .to_string()
}

/// Checks a key before it gets near the file system.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.starts_with('/') || key.contains('\\') {
        return Err("absolute or backslash path".into());
    }
    if key.chars().any(|c| c.is_control()) {
        return Err("control characters".into());
    }
    if key.split('/').any(|part| part == ".." || part == ".") {
        return Err("`.` or `..` segment".into());
    }
    Ok(())
}

impl S3Source {
    pub fn new(bucket: &str, prefix: &str, options: S3Options) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the network runtime")?;
        let client = runtime.block_on(crate::io::s3::client(ClientSpec {
            region: options.region.clone(),
            endpoint: options.endpoint.clone(),
            profile: options.profile.clone(),
            path_style: options.path_style,
            credentials: None,
            // This source retries itself, with its own backoff and counts.
            retry: RetryConfig::disabled(),
        }));
        let place = format!(
            "s3://{bucket}/{prefix} at {}",
            (options.endpoint.as_deref())
                .map(redact_userinfo)
                .unwrap_or_else(|| "the endpoint from AWS_ENDPOINT_URL_S3".into())
        );
        Ok(S3Source {
            runtime,
            client,
            bucket: bucket.into(),
            prefix: prefix.trim_matches('/').into(),
            options,
            place,
        })
    }

    fn full_prefix(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or runs out of attempts.
    async fn retry<T, F, Fut>(&self, what: &str, attempt: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut last = String::new();
        let mut jitter = retry_jitter(what);
        for n in 0..self.options.max_attempts {
            if n > 0 {
                // Full jitter: anywhere up to base · 2^n, capped.
                let cap = self
                    .options
                    .retry_base
                    .saturating_mul(1 << n.min(10))
                    .min(Duration::from_secs(20));
                tokio::time::sleep(cap.mul_f64(jitter.uniform())).await;
            }
            // The SDK's messages can quote the URL it called.
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => bail!("{}", redact_userinfo(&e)),
                Err(Failure::Transient(e)) => last = redact_userinfo(&e),
            }
        }
        bail!(
            "{last} ({} attempts; run the mirror again to resume)",
            self.options.max_attempts
        )
    }

    /// One level of "folders" under a prefix, and the objects directly in it.
    async fn list_level(
        &self,
        prefix: &str,
        delimiter: bool,
    ) -> Result<(Vec<String>, Vec<ObjectRef>)> {
        let (mut folders, mut objects) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        let base = self.full_prefix();
        loop {
            let page = self
                .retry("list", || async {
                    let mut req = self
                        .client
                        .list_objects_v2()
                        .bucket(&self.bucket)
                        .prefix(prefix);
                    if delimiter {
                        req = req.delimiter("/");
                    }
                    req.set_continuation_token(token.clone())
                        .send()
                        .await
                        .map_err(|e| classify(e, &self.place))
                })
                .await?;
            folders.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(String::from)),
            );
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                let rel = key.strip_prefix(&base).unwrap_or(key).to_string();
                objects.push(ObjectRef {
                    key: rel,
                    size: o.size().unwrap_or(0).max(0) as u64,
                    version: o.e_tag().unwrap_or("").to_string(),
                    delivered: (o.last_modified())
                        .and_then(|t| t.to_millis().ok())
                        .map(|ms| Delivered {
                            ms,
                            source: DeliverySource::LastModified,
                        }),
                });
            }
            match (page.is_truncated(), page.next_continuation_token()) {
                (Some(true), Some(next)) => token = Some(next.to_string()),
                _ => break,
            }
        }
        Ok((folders, objects))
    }

    async fn list_async(&self, window: &Window) -> Result<Vec<ObjectRef>> {
        let base = self.full_prefix();
        let mut out = Vec::new();
        if *window == Window::default() {
            out = self.list_level(&base, false).await?.1;
        } else {
            // Only the date folders that can hold the window's events.
            let (folders, top) = self.list_level(&base, true).await?;
            out.extend(top);
            for folder in folders {
                let date = folder_date(&format!("{folder}x"));
                if date.is_none_or(|d| window.may_hold_folder(d)) {
                    out.extend(self.list_level(&folder, false).await?.1);
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn fetch(&self, obj: &ObjectRef) -> Result<bytes::Bytes> {
        let key = format!("{}{}", self.full_prefix(), obj.key);
        let place = format!("{} object {}", self.place, obj.key);
        self.retry(&key, || async {
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| classify(e, &place))?;
            let expected = out.content_length();
            let max = self.options.max_object_bytes;
            if expected.is_some_and(|n| n as u64 > max) {
                return Err(Failure::Fatal(format!(
                    "{place}: the body is larger than the listing said, over [source.s3] max_object_bytes ({max})"
                )));
            }
            let body = out
                .body
                .collect()
                .await
                .map_err(|e| Failure::Transient(format!("{place}: body cut short ({e})")))?
                .into_bytes();
            match expected {
                Some(n) if n as usize != body.len() => Err(Failure::Transient(format!(
                    "{place}: body cut short ({} of {n} bytes)",
                    body.len()
                ))),
                _ => Ok(body),
            }
        })
        .await
    }
}

impl ObjectSource for S3Source {
    fn list(&self, window: &Window) -> Result<Listing> {
        self.runtime
            .block_on(self.list_async(window))
            .map(Listing::from)
    }

    fn open(&self, obj: &ObjectRef) -> Result<Box<dyn Read + Send>> {
        let bytes = self.runtime.handle().block_on(self.fetch(obj))?;
        Ok(Box::new(Cursor::new(bytes)))
    }

    fn parallelism(&self) -> Option<usize> {
        Some(self.options.concurrency)
    }

    fn max_object_bytes(&self) -> Option<u64> {
        Some(self.options.max_object_bytes)
    }

    fn check_key(&self, key: &str) -> Result<(), String> {
        check_key(key)
    }
}

impl std::fmt::Debug for S3Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Source({})", self.place)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_keys_are_refused() {
        for key in [
            "../x.log.gz",
            "a/../../b",
            "/etc/passwd",
            "a\\b",
            "a/./b",
            "a\nb",
        ] {
            assert!(check_key(key).is_err(), "{key:?}");
        }
        for key in ["20251118/a_b_c.log.gz", "date=2025-11-18/x..y.log.gz"] {
            assert!(check_key(key).is_ok(), "{key:?}");
        }
    }

    #[test]
    fn an_endpoint_password_never_reaches_a_message() {
        let s = S3Section {
            endpoint: Some("http://AKIDUSER:s3cr3t@127.0.0.1:9000".into()),
            ..Default::default()
        };
        let err = s.options().unwrap_err().to_string();
        assert!(
            !err.contains("s3cr3t") && !err.contains("AKIDUSER"),
            "{err}"
        );
        assert!(err.contains("http://***@127.0.0.1:9000"), "{err}");
        let ftp = S3Section {
            endpoint: Some("ftp://host".into()),
            ..Default::default()
        };
        assert!(ftp.options().is_err());
    }

    #[test]
    fn account_id_builds_the_r2_endpoint() {
        let s = S3Section {
            account_id: Some("abc123".into()),
            ..Default::default()
        };
        let o = s.options().unwrap();
        assert_eq!(
            o.endpoint.as_deref(),
            Some("https://abc123.r2.cloudflarestorage.com")
        );
        assert_eq!(o.region, "auto");
        assert!(o.path_style);
        assert!(S3Section {
            account_id: Some("a/b".into()),
            ..Default::default()
        }
        .options()
        .is_err());
    }
}
