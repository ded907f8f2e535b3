//! The files of a REST catalog's tables in S3-compatible storage (R2 Data
//! Catalog keeps them in its bucket), through the client of [`crate::io::s3`].
//! The keys are those the catalog vends with each table (`s3.access-key-id`,
//! `s3.secret-access-key`, `s3.session-token`, with its `s3.endpoint`).
//! Without vended keys the AWS chain's keys are used, and then only with the
//! chain's endpoint: the user's keys are never sent where a catalog says.
//! Only `s3://` and `s3a://` locations are served: a catalog that names a
//! local path is refused, so no catalog's answer makes publish write outside
//! its folders.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use iceberg::io::{
    FileMetadata, FileRead, FileWrite, InputFile, OutputFile, Storage, StorageConfig,
    StorageFactory, CLIENT_REGION, S3_ACCESS_KEY_ID, S3_ENDPOINT, S3_PATH_STYLE_ACCESS, S3_REGION,
    S3_SECRET_ACCESS_KEY, S3_SESSION_TOKEN,
};
use iceberg::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::io::s3::ClientSpec;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct S3Factory;

#[typetag::serde]
impl StorageFactory for S3Factory {
    fn build(&self, config: &StorageConfig) -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(S3Storage {
            spec: Some(spec_of(config)?),
            client: Arc::default(),
        }))
    }
}

/// The client is made on first use (the AWS chain is read asynchronously);
/// its spec is never serialised, so no key reaches a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct S3Storage {
    #[serde(skip)]
    spec: Option<ClientSpec>,
    #[serde(skip)]
    client: Arc<OnceCell<Client>>,
}

/// Never print a spec with `{:?}`: it holds the vended key id.
fn spec_of(config: &StorageConfig) -> Result<ClientSpec> {
    let props = config.props();
    let get = |key: &str| props.get(key).filter(|v| !v.is_empty()).cloned();
    let Some((id, secret)) = get(S3_ACCESS_KEY_ID).zip(get(S3_SECRET_ACCESS_KEY)) else {
        let env = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
        return Ok(ClientSpec {
            region: (env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")))
                .unwrap_or_else(|| "auto".into()),
            endpoint: None,
            profile: None,
            path_style: true,
            credentials: None,
            retry: RetryConfig::standard().with_max_attempts(5),
        });
    };
    let credentials = Credentials::new(id, secret, get(S3_SESSION_TOKEN), None, "iceberg-catalog");
    let endpoint = get(S3_ENDPOINT);
    if let Some(e) = &endpoint {
        let web = e.starts_with("https://") || e.starts_with("http://");
        if !web || crate::core::redact::has_userinfo(e) {
            return Err(unexpected(format!(
                "the catalog's {S3_ENDPOINT} {} is not an http(s) URL without user info",
                crate::core::redact::redact_userinfo(e)
            )));
        }
    }
    Ok(ClientSpec {
        region: (get(S3_REGION).or_else(|| get(CLIENT_REGION))).unwrap_or_else(|| "auto".into()),
        endpoint,
        profile: None,
        path_style: get(S3_PATH_STYLE_ACCESS).is_none_or(|v| !v.eq_ignore_ascii_case("false")),
        credentials: Some(credentials),
        retry: RetryConfig::standard().with_max_attempts(5),
    })
}

/// Largest object read whole: iceberg reads metadata, manifest lists and
/// manifests whole, data files by ranges.
const MAX_WHOLE_BYTES: u64 = 256 << 20;

/// Longest wait for an object's body once the store has answered (the SDK's
/// timeouts end with the answer's headers).
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

fn unexpected(message: String) -> Error {
    Error::new(ErrorKind::Unexpected, message)
}

/// `s3://bucket/key` (or `s3a://`) as bucket and key.
fn locate(path: &str) -> Result<(&str, &str)> {
    let rest = (path.strip_prefix("s3://"))
        .or_else(|| path.strip_prefix("s3a://"))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::FeatureUnsupported,
                format!("{path}: a REST catalog's tables must be in S3-compatible storage (s3://)"),
            )
        })?;
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok((bucket, key)),
        _ => Err(unexpected(format!("{path}: no bucket and key"))),
    }
}

/// An SDK error with what S3 said, as one line.
fn failed<E: std::error::Error + 'static>(what: &str, path: &str, e: E) -> Error {
    unexpected(format!("cannot {what} {path}: {}", DisplayErrorContext(e)))
}

impl S3Storage {
    async fn client(&self) -> Result<&Client> {
        let spec = (self.spec.clone())
            .ok_or_else(|| unexpected("an S3 storage without its settings".into()))?;
        Ok(self
            .client
            .get_or_init(|| crate::io::s3::client(spec))
            .await)
    }

    async fn size(&self, path: &str) -> Result<Option<u64>> {
        let (bucket, key) = locate(path)?;
        let client = self.client().await?;
        match client.head_object().bucket(bucket).key(key).send().await {
            Ok(head) => Ok(Some(head.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) if e.code() == Some("NotFound") => Ok(None),
            Err(e) => Err(failed("look up", path, e)),
        }
    }

    /// The object, or the bytes `range` of it: checked against the length
    /// asked for (a store that ignores the range sends the whole object),
    /// and a whole object only up to [`MAX_WHOLE_BYTES`].
    async fn get(&self, path: &str, range: Option<Range<u64>>) -> Result<Bytes> {
        let (bucket, key) = locate(path)?;
        let mut request = self.client().await?.get_object().bucket(bucket).key(key);
        let want = match &range {
            Some(r) if r.is_empty() => return Ok(Bytes::new()),
            Some(r) => {
                request = request.range(format!("bytes={}-{}", r.start, r.end - 1));
                Some(r.end - r.start)
            }
            None => None,
        };
        let object = request.send().await.map_err(|e| failed("read", path, e))?;
        let length = object.content_length().unwrap_or(0).max(0) as u64;
        if want.is_none() && length > MAX_WHOLE_BYTES {
            return Err(unexpected(format!(
                "{path}: {length} bytes, more than the {} MiB a table's metadata file may have",
                MAX_WHOLE_BYTES >> 20
            )));
        }
        let body = tokio::time::timeout(BODY_TIMEOUT, object.body.collect()).await;
        let body = (body.map_err(|_| {
            unexpected(format!(
                "{path}: no whole answer within {} s",
                BODY_TIMEOUT.as_secs()
            ))
        })?)
        .map_err(|e| failed("read", path, e))?
        .into_bytes();
        match want {
            Some(n) if body.len() as u64 != n => Err(unexpected(format!(
                "{path}: asked for {n} bytes, the store sent {}",
                body.len()
            ))),
            _ => Ok(body),
        }
    }

    async fn put(&self, path: &str, bytes: Bytes) -> Result<()> {
        let (bucket, key) = locate(path)?;
        let client = self.client().await?;
        (client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(bytes.into()))
        .send()
        .await
        .map_err(|e| failed("write", path, e))?;
        Ok(())
    }
}

#[async_trait]
#[typetag::serde]
impl Storage for S3Storage {
    async fn exists(&self, path: &str) -> Result<bool> {
        Ok(self.size(path).await?.is_some())
    }

    async fn metadata(&self, path: &str) -> Result<FileMetadata> {
        match self.size(path).await? {
            Some(size) => Ok(FileMetadata { size }),
            None => Err(unexpected(format!("{path}: no such object"))),
        }
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        self.get(path, None).await
    }

    async fn reader(&self, path: &str) -> Result<Box<dyn FileRead>> {
        locate(path)?;
        Ok(Box::new(Reader {
            storage: self.clone(),
            path: path.to_string(),
        }))
    }

    async fn write(&self, path: &str, bs: Bytes) -> Result<()> {
        self.put(path, bs).await
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn FileWrite>> {
        locate(path)?;
        Ok(Box::new(Writer {
            storage: self.clone(),
            path: path.to_string(),
            buffer: Some(Vec::new()),
        }))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let (bucket, key) = locate(path)?;
        let client = self.client().await?;
        (client.delete_object().bucket(bucket).key(key).send().await)
            .map_err(|e| failed("delete", path, e))?;
        Ok(())
    }

    async fn delete_prefix(&self, path: &str) -> Result<()> {
        let (bucket, prefix) = locate(path)?;
        let prefix = format!("{}/", prefix.trim_end_matches('/'));
        let client = self.client().await?;
        let mut pages = (client.list_objects_v2().bucket(bucket).prefix(&prefix))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("list", path, e))?;
            for key in page.contents().iter().filter_map(|o| o.key()) {
                self.delete(&format!("s3://{bucket}/{key}")).await?;
            }
        }
        Ok(())
    }

    async fn delete_stream(&self, mut paths: BoxStream<'static, String>) -> Result<()> {
        while let Some(path) = paths.next().await {
            self.delete(&path).await?;
        }
        Ok(())
    }

    fn new_input(&self, path: &str) -> Result<InputFile> {
        Ok(InputFile::new(Arc::new(self.clone()), path.to_string()))
    }

    fn new_output(&self, path: &str) -> Result<OutputFile> {
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_string()))
    }
}

struct Reader {
    storage: S3Storage,
    path: String,
}

#[async_trait]
impl FileRead for Reader {
    async fn read(&self, range: Range<u64>) -> Result<Bytes> {
        self.storage.get(&self.path, Some(range)).await
    }
}

/// Collects the file and puts it whole on close: an object appears complete
/// or not at all. Publish's files are a lake file's size at most.
struct Writer {
    storage: S3Storage,
    path: String,
    buffer: Option<Vec<u8>>,
}

#[async_trait]
impl FileWrite for Writer {
    async fn write(&mut self, bs: Bytes) -> Result<()> {
        let buffer = (self.buffer.as_mut())
            .ok_or_else(|| unexpected(format!("{}: written after close", self.path)))?;
        buffer.extend_from_slice(&bs);
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        let buffer = (self.buffer.take())
            .ok_or_else(|| unexpected(format!("{}: closed twice", self.path)))?;
        self.storage.put(&self.path, buffer.into()).await
    }
}
