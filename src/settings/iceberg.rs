//! The Iceberg catalog of `publish` and `report --requests`: a REST catalog
//! when its URI is given (flag or environment: R2 Data Catalog's URI,
//! warehouse and token are account settings, kept out of pipeline files),
//! else the SQLite catalog in the lake's `_iceberg` folder.

use std::path::Path;

use anyhow::{bail, Result};

use super::flags::CatalogArgs;
use super::{PublishArgs, Settings};
use crate::core::redact::{has_userinfo, Secret};
use crate::lake::iceberg::{Catalog, TableRef};
use crate::lake::imported::Source;
use crate::publish::Options;

/// The REST catalog's URI, when `--catalog-uri` is not given.
pub const URI_VAR: &str = "TRACECOST_CATALOG_URI";
/// The REST catalog's warehouse, when `--warehouse` is not given.
pub const WAREHOUSE_VAR: &str = "TRACECOST_CATALOG_WAREHOUSE";
/// The REST catalog's bearer token: only from the environment, so that it
/// is in no shell history and no process list.
pub const TOKEN_VAR: &str = "TRACECOST_CATALOG_TOKEN";

pub fn publish_options(args: &PublishArgs, settings: &Settings) -> Result<Options> {
    let namespace = args.namespace.clone().unwrap_or_else(|| "tracecost".into());
    if !is_name(&namespace) {
        bail!("--namespace {namespace:?}: give letters, digits and _");
    }
    Ok(Options {
        lake: settings.mirror.lake.clone(),
        window: settings.mirror.window,
        derived: settings.transform.derived.clone(),
        catalog: catalog(&args.catalog, &settings.mirror.lake)?,
        namespace,
    })
}

fn is_name(text: &str) -> bool {
    !text.is_empty() && (text.chars()).all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `report --requests`: a file or folder that is there (or a name ending in
/// `.parquet`) is Parquet; else `NAMESPACE.TABLE` names an Iceberg table of
/// the catalog.
pub fn requests_source(
    given: Option<&Path>,
    args: &CatalogArgs,
    lake: &Path,
) -> Result<Option<Source>> {
    let catalog_flags =
        args.catalog.is_some() || args.catalog_uri.is_some() || args.warehouse.is_some();
    let Some(given) = given else {
        if catalog_flags {
            bail!("--catalog, --catalog-uri and --warehouse are for --requests NAMESPACE.TABLE");
        }
        return Ok(None);
    };
    let text = given.to_string_lossy();
    let there = given.symlink_metadata().is_ok();
    let table = (!there && !text.to_ascii_lowercase().ends_with(".parquet"))
        .then(|| text.split_once('.'))
        .flatten()
        .filter(|(ns, name)| is_name(ns) && is_name(name));
    let Some((namespace, name)) = table else {
        if catalog_flags {
            bail!("--catalog, --catalog-uri and --warehouse are for --requests NAMESPACE.TABLE, not a Parquet file or folder");
        }
        return Ok(Some(Source::Parquet(given.to_path_buf())));
    };
    Ok(Some(Source::Table(TableRef {
        catalog: catalog(args, lake)?,
        namespace: namespace.to_string(),
        name: name.to_string(),
    })))
}

fn catalog(args: &CatalogArgs, lake: &Path) -> Result<Catalog> {
    let home = lake.join("_iceberg");
    Ok(match rest_catalog(args)? {
        Some(rest) => rest,
        None => Catalog::Sqlite {
            file: (args.catalog.clone()).unwrap_or_else(|| home.join("catalog.db")),
            warehouse: (args.warehouse.clone()).unwrap_or_else(|| home.join("warehouse")),
        },
    })
}

/// A variable that is set to something (an empty one counts as unset).
fn env(var: &str) -> Result<Option<String>> {
    match std::env::var(var) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{var} is not UTF-8 text"),
    }
}

fn rest_catalog(args: &CatalogArgs) -> Result<Option<Catalog>> {
    // A flag overrides the environment: `--catalog FILE` with the REST
    // catalog's variable set is the SQLite catalog.
    let (uri, from) = match (&args.catalog_uri, &args.catalog, env(URI_VAR)?) {
        (Some(_), Some(_), _) => {
            bail!("--catalog names a SQLite catalog and --catalog-uri a REST one: give one of them")
        }
        (Some(uri), None, _) => (uri.clone(), "--catalog-uri"),
        (None, None, Some(uri)) => (uri, URI_VAR),
        (None, _, _) => return Ok(None),
    };
    let web = uri.starts_with("https://") || uri.starts_with("http://");
    if !web || has_userinfo(&uri) || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("{from}: give the catalog's http(s) URL without user info or spaces (the token goes in {TOKEN_VAR})");
    }
    // iceberg-rust appends `/v1/...` as given.
    let uri = uri.trim_end_matches('/').to_string();
    let warehouse = match &args.warehouse {
        Some(w) => Some(w.to_string_lossy().into_owned()),
        None => env(WAREHOUSE_VAR)?,
    };
    if warehouse
        .as_deref()
        .is_some_and(|w| w.chars().any(char::is_control))
    {
        bail!("the warehouse (--warehouse or {WAREHOUSE_VAR}) holds control characters");
    }
    let token = env(TOKEN_VAR)?;
    if let Some(t) = &token {
        // Sent as an HTTP header: anything else would break or forge one.
        if !t.chars().all(|c| c.is_ascii_graphic()) {
            bail!("{TOKEN_VAR} is not a token: it holds spaces, control or non-ASCII characters");
        }
    }
    Ok(Some(Catalog::Rest {
        uri,
        warehouse,
        token: token.map(Secret::new),
    }))
}
