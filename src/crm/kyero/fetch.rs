//! Pulls an agency's Kyero feed from its URL into a staging folder, as
//! `feed.xml` beside a `feed.json` record of the fetch.
//!
//! A feed behind HTTP Basic auth gets the user and password of the
//! integration's optional `user` and `password` credentials. The request
//! is conditional: the `ETag` and `Last-Modified` of the last
//! feed fetched for the agency are sent back, and a `304 Not Modified`
//! fetches nothing ([`FeedUnchanged`]). The body is streamed to disk under a
//! `.partial` folder, renamed once complete.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use reqwest::{StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::crm::adapter::{FeedUnchanged, FetchRequest};
use crate::exit::UsageError;

/// The feed's file in a staging folder.
pub const FEED_FILE: &str = "feed.xml";
/// The record of the fetch, beside the feed.
pub const FEED_MANIFEST: &str = "feed.json";
/// Written beside the feed once an import applied it. Only such a feed's
/// validators make the next request conditional: a feed whose import
/// failed or tripped a guard is downloaded again, so that a retry or
/// `--force` has something to work on.
pub const IMPORTED_MARK: &str = "feed.imported";

/// Record of one fetch of the feed, kept for the next conditional request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedManifest {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub size: u64,
    pub fetched_at: String,
}

/// Downloads the feed into `request.target_dir`.
///
/// # Errors
/// No feed URL, a rejected or failed request, or [`FeedUnchanged`] when the
/// server replies that the feed did not change.
pub fn fetch_to_staging(request: &FetchRequest<'_>) -> anyhow::Result<PathBuf> {
    let url = request.api_url.ok_or_else(|| {
        UsageError(format!(
            "integration {} needs api_url: the URL of its Kyero feed",
            request.integration
        ))
    })?;
    let previous = request.target_dir.parent().and_then(latest_manifest);
    crate::transport::install_crypto_provider();
    let client = reqwest::Client::builder()
        .connect_timeout(request.http.connect_timeout)
        .timeout(request.http.timeout)
        .user_agent(concat!("passerelle/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let partial = PathBuf::from(format!("{}.partial", request.target_dir.display()));
    let fetched = runtime.block_on(download(&client, url, previous.as_ref(), request, &partial));
    let manifest = match fetched {
        Ok(manifest) => manifest,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(error);
        }
    };
    let path = partial.join(FEED_MANIFEST);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::rename(&partial, request.target_dir).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            request.target_dir.display()
        )
    })?;
    Ok(request.target_dir.to_path_buf())
}

async fn download(
    client: &reqwest::Client,
    url: &str,
    previous: Option<&FeedManifest>,
    request: &FetchRequest<'_>,
    partial: &Path,
) -> anyhow::Result<FeedManifest> {
    let mut attempt = 1;
    let mut backoff = request.http.first_backoff;
    let mut response = loop {
        let mut get = client.get(url);
        if let (Some(user), Some(password)) = (
            request.credentials.get("user"),
            request.credentials.get("password"),
        ) {
            get = get.basic_auth(&user.value, Some(&password.value));
        }
        if let Some(previous) = previous.filter(|previous| previous.url == url) {
            if let Some(etag) = &previous.etag {
                get = get.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = &previous.last_modified {
                get = get.header(header::IF_MODIFIED_SINCE, last_modified);
            }
        }
        tracing::debug!(url, attempt, "GET feed");
        let transient = match get.send().await {
            Ok(response)
                if response.status().is_server_error()
                    || response.status() == StatusCode::TOO_MANY_REQUESTS =>
            {
                format!("HTTP {}", response.status().as_u16())
            }
            Ok(response) => break response,
            Err(error) if error.is_connect() || error.is_timeout() => format!("{error}"),
            Err(error) => return Err(anyhow::Error::new(error).context(format!("cannot fetch {url}"))),
        };
        if attempt >= request.http.max_attempts {
            anyhow::bail!("cannot fetch {url}: {transient}, after {attempt} attempts");
        }
        tokio::time::sleep(backoff.min(Duration::from_secs(60))).await;
        backoff *= 2;
        attempt += 1;
    };
    let status = response.status();
    if status == StatusCode::NOT_MODIFIED {
        let since = previous.map_or_else(String::new, |previous| previous.fetched_at.clone());
        return Err(FeedUnchanged { since }.into());
    }
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        let hint = match (
            request.credentials.get("user"),
            request.credentials.get("password"),
        ) {
            (Some(user), Some(password)) => format!(
                "check the user and password in the environment variables {} and {}",
                user.variable, password.variable
            ),
            _ => "if the feed needs a user and password, name their environment variables in the \
                  integration's [integrations.credentials] user and password"
                .to_string(),
        };
        anyhow::bail!(
            "{url}: the feed server refused access (HTTP {}); {hint}",
            status.as_u16()
        );
    }
    if !status.is_success() {
        anyhow::bail!("cannot fetch {url}: HTTP {}", status.as_u16());
    }
    let header_text = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value: &header::HeaderValue| value.to_str().ok())
            .map(str::to_string)
    };
    let etag = header_text(header::ETAG);
    let last_modified = header_text(header::LAST_MODIFIED);
    std::fs::create_dir_all(partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let path = partial.join(FEED_FILE);
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    let mut size = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("{url}: the transfer broke off"))?
    {
        size += chunk.len() as u64;
        file.write_all(&chunk)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    file.flush()?;
    Ok(FeedManifest {
        url: url.to_string(),
        etag,
        last_modified,
        size,
        fetched_at: crate::store::timestamp(),
    })
}

/// Returns the record of the newest fetch an import applied in an agency's
/// staging folder, whose validators make the next request conditional.
fn latest_manifest(agency_dir: &Path) -> Option<FeedManifest> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(agency_dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.join(FEED_MANIFEST).is_file() && path.join(IMPORTED_MARK).is_file())
        .collect();
    // Folder names are UTC times, so the newest sorts last.
    folders.sort();
    let newest = folders.last()?;
    serde_json::from_slice(&std::fs::read(newest.join(FEED_MANIFEST)).ok()?).ok()
}
