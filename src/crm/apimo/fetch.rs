//! Download of an agency's properties from the Apimo API into a staging
//! directory: one file per page (`properties-0001.json`, …) exactly as the
//! API sent it, and a manifest with the announced total.
//!
//! Pages are fetched with `limit` and `offset` until `total_items` is
//! reached. The directory is filled under a `.partial` name and renamed when
//! complete, so an interrupted fetch never looks like a finished one.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::crm::adapter::FetchRequest;
use crate::transport::http::{BasicAuth, HttpClient, HttpError};

/// The Apimo API, when the integration names no other base URL.
pub const DEFAULT_API_URL: &str = "https://api.apimo.pro";

/// Properties asked for per page.
pub const PAGE_SIZE: u64 = 100;

/// Most pages fetched, a guard against an API that never reaches its total.
const MAX_PAGES: u64 = 10_000;

/// Name of the manifest in a staged payload.
pub const MANIFEST_FILE: &str = "fetch.json";

/// Record of a fetch, written beside the pages.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub crm: String,
    pub agency: String,
    /// The first page's URL, without credentials.
    pub url: String,
    pub total_items: u64,
    pub pages: u64,
    pub fetched_at: String,
}

/// The part of a page the fetch reads: the total and the page's length.
#[derive(Deserialize)]
struct Page {
    total_items: u64,
    properties: Vec<serde::de::IgnoredAny>,
}

/// Downloads every property of the agency into `request.target_dir`.
///
/// # Errors
/// Missing credentials, an authentication failure (named with the
/// integration and the variables that hold the credentials, never their
/// values), an HTTP or network failure after retries, invalid JSON, or a
/// file that cannot be written.
pub fn fetch_to_staging(request: &FetchRequest<'_>) -> anyhow::Result<PathBuf> {
    let credential = |name: &str| {
        request
            .credentials
            .get(name)
            .with_context(|| format!("integration {} has no Apimo {name}", request.integration))
    };
    let provider = credential("provider")?;
    let token = credential("token")?;
    let auth = BasicAuth {
        user: provider.value.clone(),
        password: token.value.clone(),
    };
    let base = request.api_url.unwrap_or(DEFAULT_API_URL).trim_end_matches('/');
    let partial = PathBuf::from(format!("{}.partial", request.target_dir.display()));
    std::fs::create_dir_all(&partial).with_context(|| format!("cannot create {}", partial.display()))?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the HTTP runtime")?;
    let mut client = HttpClient::new(request.http.clone())?;
    let first_url = page_url(base, request.agency_code, 0);
    let fetched = runtime.block_on(async {
        let mut offset = 0;
        let mut pages = 0;
        let mut total_items;
        loop {
            let url = page_url(base, request.agency_code, offset);
            let body = client.get(&url, Some(&auth)).await.map_err(|error| match error {
                HttpError::Authentication { status, .. } => anyhow::anyhow!(
                    "authentication failed for integration {}: Apimo refused the provider and token \
                     (HTTP {status}); check the variables {} and {}",
                    request.integration,
                    provider.variable,
                    token.variable
                ),
                other => anyhow::Error::new(other).context(format!(
                    "cannot fetch the properties of Apimo agency {}",
                    request.agency_code
                )),
            })?;
            let page: Page = serde_json::from_slice(&body)
                .with_context(|| format!("{url} did not answer valid Apimo JSON"))?;
            pages += 1;
            let path = partial.join(format!("properties-{pages:04}.json"));
            std::fs::write(&path, &body).with_context(|| format!("cannot write {}", path.display()))?;
            total_items = page.total_items;
            offset += page.properties.len() as u64;
            if page.properties.is_empty() || offset >= total_items || pages >= MAX_PAGES {
                break;
            }
        }
        anyhow::Ok((total_items, pages))
    });
    // The pages of a failed fetch are never imported, so they go, as a
    // failed Kyero fetch's feed does, rather than pile up at each retry.
    let (total_items, pages) = match fetched {
        Ok(counts) => counts,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(error);
        }
    };

    let manifest = Manifest {
        crm: request.crm.to_string(),
        agency: request.agency_code.to_string(),
        url: first_url,
        total_items,
        pages,
        fetched_at: crate::store::timestamp(),
    };
    let manifest_path = partial.join(MANIFEST_FILE);
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest)?)
        .with_context(|| format!("cannot write {}", manifest_path.display()))?;
    std::fs::rename(&partial, request.target_dir).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            request.target_dir.display()
        )
    })?;
    Ok(request.target_dir.to_path_buf())
}

fn page_url(base: &str, agency: &str, offset: u64) -> String {
    format!("{base}/agencies/{agency}/properties?limit={PAGE_SIZE}&offset={offset}")
}

/// Returns where a fetch of `crm` and `agency` made now goes:
/// `<staging>/<crm>/<agency>/<UTC timestamp>`, with `-2`, `-3`… added when
/// an earlier fetch of the same second has that name.
pub fn staging_dir(staging: &Path, crm: &str, agency: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let parent = staging.join(crm).join(agency);
    let in_use = |name: &str| parent.join(name).exists() || parent.join(format!("{name}.partial")).exists();
    let name = std::iter::once(stamp.clone())
        .chain((2..).map(|number| format!("{stamp}-{number}")))
        .find(|name| !in_use(name))
        .unwrap_or(stamp);
    parent.join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_dir_same_second_unique() {
        let dir = tempfile::tempdir().unwrap();
        let first = staging_dir(dir.path(), "apimo", "4242");
        std::fs::create_dir_all(&first).unwrap();
        let second = staging_dir(dir.path(), "apimo", "4242");
        assert_ne!(first, second);
        std::fs::create_dir_all(format!("{}.partial", second.display())).unwrap();
        let third = staging_dir(dir.path(), "apimo", "4242");
        assert_ne!(third, first);
        assert_ne!(third, second);
    }
}
