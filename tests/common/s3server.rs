//! A real S3-compatible server (s3s with its file-system backend) on
//! 127.0.0.1, wrapped in a layer that counts requests and injects faults on
//! a seeded schedule: 503 SlowDown, 500, dropped connections, bodies cut short.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use s3s::service::{S3Service, S3ServiceBuilder};

pub const ACCESS_KEY: &str = "AKIATRACECOSTTEST01";
pub const SECRET_KEY: &str = "tracecost-test-secret-Zq8wX3vB7nK2";
pub const BUCKET: &str = "logs";

#[derive(Default)]
pub struct Stats {
    pub get_object: AtomicUsize,
    pub list: AtomicUsize,
    pub faults: AtomicUsize,
}

#[derive(Default)]
pub struct Faults {
    /// (state of a small LCG, probability) of a fault per request.
    schedule: Option<(u64, f64)>,
    /// Keys added to every listing (they do not exist on disk).
    pub inject_keys: Vec<String>,
}

impl Faults {
    fn next(&mut self) -> Option<u64> {
        let (state, p) = self.schedule.as_mut()?;
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (*state >> 11) as f64 / (1u64 << 53) as f64;
        (u < *p).then_some(*state % 4)
    }
}

pub struct Server {
    pub endpoint: String,
    pub root: PathBuf,
    pub stats: Arc<Stats>,
    pub faults: Arc<Mutex<Faults>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(root: &Path) -> Server {
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let stats = Arc::new(Stats::default());
        let faults = Arc::new(Mutex::new(Faults::default()));
        let fs = s3s_fs::FileSystem::new(root).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let wrapped = Wrapped {
            inner: builder.build(),
            stats: stats.clone(),
            faults: faults.clone(),
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let service = wrapped.clone();
                tokio::spawn(async move {
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = builder
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Server {
            endpoint,
            root: root.to_path_buf(),
            stats,
            faults,
            _runtime: runtime,
        }
    }

    /// Faults on this share of requests from now on, drawn from `seed`.
    pub fn set_faults(&self, seed: u64, probability: f64) {
        self.faults.lock().unwrap().schedule = Some((seed, probability));
    }

    pub fn clear_faults(&self) {
        self.faults.lock().unwrap().schedule = None;
    }

    /// Copies a local archive under `prefix/` in the bucket.
    pub fn upload(&self, archive: &Path, prefix: &str) {
        let dest = self.root.join(BUCKET).join(prefix);
        crate::common::copy_tree(archive, &dest);
    }

    pub fn gets(&self) -> usize {
        self.stats.get_object.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct Wrapped {
    inner: S3Service,
    stats: Arc<Stats>,
    faults: Arc<Mutex<Faults>>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: the server's own, whole bytes, or bytes cut short.
pub enum Reply {
    Inner(s3s::Body),
    Whole(Option<Bytes>),
    /// Sends these bytes, then fails, so the connection drops mid-body while
    /// the Content-Length header still announces the whole object.
    Cut(Option<Bytes>),
}

impl http_body::Body for Reply {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        use std::task::Poll;
        match self.get_mut() {
            Reply::Inner(b) => Pin::new(b)
                .poll_frame(cx)
                .map_err(|e| -> BoxError { format!("{e:?}").into() }),
            Reply::Whole(b) => Poll::Ready(b.take().map(|b| Ok(http_body::Frame::data(b)))),
            Reply::Cut(b) => Poll::Ready(Some(match b.take() {
                Some(b) => Ok(http_body::Frame::data(b)),
                None => Err("body cut short by the fault layer".into()),
            })),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Reply::Inner(b) => b.size_hint(),
            Reply::Whole(Some(b)) => http_body::SizeHint::with_exact(b.len() as u64),
            _ => http_body::SizeHint::default(),
        }
    }
}

fn error_response(status: u16, code: &str, message: &str) -> http::Response<Reply> {
    let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>");
    http::Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Reply::Whole(Some(Bytes::from(xml))))
        .unwrap()
}

impl hyper::service::Service<http::Request<Incoming>> for Wrapped {
    type Response = http::Response<Reply>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let query = req.uri().query().unwrap_or("").to_string();
            let segments = req
                .uri()
                .path()
                .trim_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .count();
            let is_list = req.method() == http::Method::GET && query.contains("list-type=2");
            let is_get = req.method() == http::Method::GET && segments >= 2 && !is_list;
            if is_list {
                this.stats.list.fetch_add(1, Ordering::SeqCst);
            }
            if is_get {
                this.stats.get_object.fetch_add(1, Ordering::SeqCst);
            }
            let fault = this.faults.lock().unwrap().next();
            if fault.is_some() {
                this.stats.faults.fetch_add(1, Ordering::SeqCst);
            }
            match fault {
                Some(0) => {
                    return Ok(error_response(
                        503,
                        "SlowDown",
                        "Please reduce your request rate.",
                    ))
                }
                Some(1) => {
                    return Ok(error_response(
                        500,
                        "InternalError",
                        "We encountered an internal error.",
                    ))
                }
                Some(2) => return Err("connection reset by the fault layer".into()),
                _ => {}
            }
            let response = hyper::service::Service::call(&this.inner, req)
                .await
                .map_err(|e| -> BoxError { format!("{e:?}").into() })?;
            let cut = fault == Some(3) && is_get && response.status().is_success();
            let inject: Vec<String> = this.faults.lock().unwrap().inject_keys.clone();
            if !cut && (!is_list || inject.is_empty()) {
                return Ok(response.map(Reply::Inner));
            }
            let (parts, body) = response.into_parts();
            let bytes: Bytes = body.collect().await?.to_bytes();
            if cut {
                // Keep the announced Content-Length, send half the body, then close.
                let half = bytes.slice(..bytes.len() / 2);
                return Ok(http::Response::from_parts(parts, Reply::Cut(Some(half))));
            }
            let mut xml = String::from_utf8(bytes.to_vec()).unwrap();
            let extra: String = inject
                .iter()
                .map(|k| {
                    format!(
                        "<Contents><Key>{k}</Key><Size>10</Size><ETag>\"0123\"</ETag></Contents>"
                    )
                })
                .collect();
            let at = xml.rfind("</ListBucketResult>").unwrap();
            xml.insert_str(at, &extra);
            let mut parts = parts;
            parts.headers.remove("content-length");
            Ok(http::Response::from_parts(
                parts,
                Reply::Whole(Some(Bytes::from(xml))),
            ))
        })
    }
}
