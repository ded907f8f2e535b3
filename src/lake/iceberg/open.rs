//! Opening a catalog, and the one commit iceberg-rust does not make (a
//! snapshot that replaces files, `publish`'s replace): through the SQL
//! catalog's database, or the REST catalog's commit endpoint.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use iceberg::io::LocalFsStorageFactory;
use iceberg::{Catalog, CatalogBuilder, TableIdent, TableRequirement, TableUpdate};
use iceberg_catalog_rest::{
    CommitTableRequest, RestCatalogBuilder, REST_CATALOG_PROP_URI, REST_CATALOG_PROP_WAREHOUSE,
};
use iceberg_catalog_sql::{
    SqlBindStyle, SqlCatalogBuilder, SQL_CATALOG_PROP_URI, SQL_CATALOG_PROP_WAREHOUSE,
};
use sqlx::sqlite::SqlitePool;

use super::storage::S3Factory;
use super::{said, Catalog as Where, CATALOG_NAME};
use crate::core::redact::{redact_userinfo, Secret};

/// Never print an `Opened` or a table with `{:?}`: iceberg-rust's `Debug`
/// shows their properties, the token and the vended keys among them.
pub struct Opened {
    pub catalog: Box<dyn Catalog>,
    pub commits: Commits,
}

/// How `publish` swaps a table's snapshot when it replaces files.
pub enum Commits {
    /// A compare-and-swap of the table's row in the SQL catalog's database.
    Sqlite(SqlitePool),
    /// A commit request with its requirements, checked by the REST catalog.
    Rest(RestCommits),
}

/// What the catalog is opened for: `report` only reads, and changes no
/// catalog it is pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

pub async fn open(catalog: &Where, access: Access) -> Result<Opened> {
    match catalog {
        Where::Sqlite { file, warehouse } => open_sqlite(file, warehouse, access).await,
        Where::Rest {
            uri,
            warehouse,
            token,
        } => open_rest(uri, warehouse.as_deref(), token.as_ref()).await,
    }
}

async fn open_sqlite(file: &Path, warehouse: &Path, access: Access) -> Result<Opened> {
    let mode = match access {
        Access::Write => {
            for dir in [file.parent().unwrap_or(Path::new(".")), warehouse] {
                (std::fs::create_dir_all(dir))
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            "rwc"
        }
        // Opening it to write would create an empty one.
        Access::Read if !file.is_file() => bail!("no catalog at {}: publish into it first (tracecost publish), or name another with --catalog or --catalog-uri", file.display()),
        Access::Read => "ro",
    };
    let absolute = |p: &Path| {
        std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()))
    };
    let uri = format!("sqlite:{}?mode={mode}", absolute(file)?.display());
    let props = HashMap::from([
        (SQL_CATALOG_PROP_URI.to_string(), uri.clone()),
        (
            SQL_CATALOG_PROP_WAREHOUSE.to_string(),
            format!("file://{}", absolute(warehouse)?.display()),
        ),
    ]);
    let catalog = SqlCatalogBuilder::default()
        .sql_bind_style(SqlBindStyle::QMark)
        .with_storage_factory(Arc::new(LocalFsStorageFactory))
        .load(CATALOG_NAME, props)
        .await
        .map_err(said)
        .with_context(|| format!("cannot open the catalog {}", file.display()))?;
    let pool = SqlitePool::connect(&uri)
        .await
        .with_context(|| format!("cannot open the catalog {}", file.display()))?;
    Ok(Opened {
        catalog: Box::new(catalog),
        commits: Commits::Sqlite(pool),
    })
}

async fn open_rest(uri: &str, warehouse: Option<&str>, token: Option<&Secret>) -> Result<Opened> {
    // One client for every request to the catalog, iceberg-rust's too, so
    // that none waits for ever (its own has no timeout).
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .context("cannot start an HTTP client")?;
    // Asked first: a wrong URI or token is one line before any table is read.
    let commits = RestCommits::connect(http.clone(), uri, warehouse, token).await?;
    let mut props = HashMap::from([
        (REST_CATALOG_PROP_URI.to_string(), uri.to_string()),
        // The catalog hands out keys to its storage with each table (R2 Data
        // Catalog does; Spark and pyiceberg ask for them so too).
        (
            "header.X-Iceberg-Access-Delegation".to_string(),
            "vended-credentials".to_string(),
        ),
    ]);
    if let Some(w) = warehouse {
        props.insert(REST_CATALOG_PROP_WAREHOUSE.to_string(), w.to_string());
    }
    if let Some(t) = token {
        props.insert("token".to_string(), t.expose().to_string());
    }
    let catalog = RestCatalogBuilder::default()
        .with_client(http)
        .with_storage_factory(Arc::new(S3Factory))
        .load(CATALOG_NAME, props)
        .await
        .map_err(said)
        .with_context(|| format!("cannot open the catalog at {uri}"))?;
    Ok(Opened {
        catalog: Box::new(catalog),
        commits: Commits::Rest(commits),
    })
}

/// The REST catalog's commit endpoint, found as its clients find it: the
/// `prefix` (and any `uri`) the catalog's `/v1/config` gives.
pub struct RestCommits {
    http: reqwest::Client,
    /// `<uri>/v1[/<prefix>]`.
    base: String,
    token: Option<Secret>,
}

#[derive(serde::Deserialize, Default)]
struct Config {
    #[serde(default)]
    defaults: HashMap<String, String>,
    #[serde(default)]
    overrides: HashMap<String, String>,
}

impl RestCommits {
    async fn connect(
        http: reqwest::Client,
        uri: &str,
        warehouse: Option<&str>,
        token: Option<&Secret>,
    ) -> Result<Self> {
        let mut request = http.get(format!("{uri}/v1/config"));
        if let Some(w) = warehouse {
            request = request.query(&[("warehouse", w)]);
        }
        if let Some(t) = token {
            request = request.bearer_auth(t.expose());
        }
        let body = answer(uri, "its configuration", request).await?;
        let config: Config = serde_json::from_slice(&body).with_context(|| {
            format!("the catalog at {uri} answered /v1/config with no configuration")
        })?;
        let base = match config.overrides.get("uri") {
            Some(moved) if origin(moved) != origin(uri) => bail!("the catalog at {uri} sends its clients to {}: refused, the token would go there (give that URI yourself if it is the catalog's)", redact_userinfo(moved)),
            Some(moved) => moved.as_str(),
            None => uri,
        };
        // Joined as iceberg-rust joins it, so that both send to one place.
        let prefix = (config.overrides.get("prefix")).or(config.defaults.get("prefix"));
        Ok(RestCommits {
            base: match prefix {
                Some(p) => format!("{base}/v1/{p}"),
                None => format!("{base}/v1"),
            },
            http,
            token: token.cloned(),
        })
    }

    /// Sends one commit; `Ok(false)`: a requirement failed (another commit
    /// came first).
    pub async fn commit(
        &self,
        ident: &TableIdent,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> Result<bool> {
        let url = format!(
            "{}/namespaces/{}/tables/{}",
            self.base,
            ident.namespace().to_url_string(),
            ident.name()
        );
        let body = serde_json::to_vec(&CommitTableRequest {
            identifier: Some(ident.clone()),
            requirements,
            updates,
        })?;
        let mut request = (self.http.post(url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(t) = &self.token {
            request = request.bearer_auth(t.expose());
        }
        match answer(&self.base, &format!("the commit to {ident}"), request).await {
            Ok(_) => Ok(true),
            Err(e) if e.downcast_ref::<Conflict>().is_some() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// `scheme://host:port` of a URL.
fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    &url[..end]
}

#[derive(Debug, thiserror::Error)]
#[error("conflict")]
struct Conflict;

/// Largest answer read: a commit's answer holds the table's whole metadata
/// (every snapshot), megabytes for a table with a long history.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// The answer's body, refused past [`MAX_ANSWER_BYTES`] (a catalog that
/// never stops sending would fill the memory).
async fn read_capped(uri: &str, mut response: reqwest::Response) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let chunk = (response.chunk().await).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the catalog's answer from {uri}: {}",
                e.without_url()
            )
        })?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            bail!(
                "the catalog at {uri} answered with more than {} MiB: not a catalog's answer",
                MAX_ANSWER_BYTES >> 20
            );
        }
        body.extend_from_slice(&chunk);
    }
}

/// The body of a successful answer; any other is one line with the status
/// and the catalog's own message (never the request, which holds the token).
async fn answer(uri: &str, what: &str, request: reqwest::RequestBuilder) -> Result<Vec<u8>> {
    let response = (request.send().await)
        .map_err(|e| anyhow::anyhow!("cannot reach the catalog at {uri}: {}", e.without_url()))?;
    let status = response.status();
    let body = read_capped(uri, response).await?;
    if status.is_success() {
        return Ok(body);
    }
    if status == reqwest::StatusCode::CONFLICT {
        return Err(Conflict.into());
    }
    let said = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_string))
        .unwrap_or_default();
    let said: String = said.chars().filter(|c| !c.is_control()).take(300).collect();
    let hint = match status.as_u16() {
        401 | 403 => ": the catalog refused the token (check it, and that it may use the catalog and its storage)",
        404 => ": no such catalog, warehouse or table (check the URI and warehouse)",
        _ => "",
    };
    bail!(
        "the catalog at {uri} refused {what} ({status}){hint}{}",
        match said.is_empty() {
            true => String::new(),
            false => format!(": {said}"),
        }
    )
}
