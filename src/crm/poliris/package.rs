//! A Poliris delivery as the user points at it: a bare `Annonces.csv`, a
//! directory holding it, or a zip archive.
//!
//! A delivery carries `Annonces.csv` (the listings), `Config.txt` (format
//! version, software, currency) and `Photos.cfg` (how photos are sent), plus
//! photo files when `Photos.cfg` sets `Mode=FULL` or `Mode=DIFF`. Real
//! exports write these names in any letter case, so they are matched
//! case-insensitively.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::encoding::{TextEncoding, detect_encoding, scan_encoding};
use crate::photos::PhotoFiles;
use crate::transport::archive::{self, Archive, ArchiveError};

const LISTINGS_FILE: &str = "Annonces.csv";
const CONFIG_FILE: &str = "Config.txt";
const PHOTOS_FILE: &str = "Photos.cfg";
/// Largest `Config.txt` or `Photos.cfg` read; real ones are under 1 KiB.
const MAX_SETTINGS_BYTES: u64 = 64 * 1024;
const READ_BUFFER_BYTES: usize = 256 * 1024;

#[derive(Debug, Error)]
pub enum PackageError {
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no {LISTINGS_FILE} in {path} (found: {found})")]
    NoListingsFile { path: PathBuf, found: String },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Photo delivery mode, from `Photos.cfg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotosMode {
    /// Photos are http(s) URLs in the listings file.
    Url,
    /// Every photo file is in the delivery.
    Full,
    /// Only new or changed photo files are in the delivery; earlier ones stay valid.
    Diff,
}

/// Settings declared by `Config.txt`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolirisConfig {
    pub version: Option<String>,
    pub application: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageKind {
    File,
    Directory,
    Zip,
}

/// An opened Poliris delivery.
#[derive(Debug)]
pub struct PolirisPackage {
    path: PathBuf,
    kind: PackageKind,
    /// The listings file: a path on disk, or a member name in the zip.
    listings: String,
    pub config: Option<PolirisConfig>,
    pub photos_mode: Option<PhotosMode>,
    /// Lower-cased file names delivered beside the listings file.
    member_names: HashSet<String>,
}

impl PolirisPackage {
    /// Opens a file, a directory or a zip archive and reads its settings files.
    pub fn open(path: &Path) -> Result<Self, PackageError> {
        let metadata = fs::metadata(path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => PackageError::NotFound {
                path: path.to_path_buf(),
            },
            _ => PackageError::Io {
                path: path.to_path_buf(),
                source,
            },
        })?;
        if metadata.is_dir() {
            Self::open_directory(path)
        } else if is_zip(path)? {
            Self::open_zip(path)
        } else {
            Ok(Self {
                path: path.to_path_buf(),
                kind: PackageKind::File,
                listings: path.display().to_string(),
                config: None,
                photos_mode: None,
                member_names: HashSet::new(),
            })
        }
    }

    fn open_directory(path: &Path) -> Result<Self, PackageError> {
        let io_error = |source| PackageError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut names = Vec::new();
        for entry in fs::read_dir(path).map_err(io_error)? {
            let entry = entry.map_err(io_error)?;
            if entry.file_type().map_err(io_error)?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        let find = |wanted: &str| names.iter().find(|name| name.eq_ignore_ascii_case(wanted));
        let Some(listings) = find(LISTINGS_FILE) else {
            // A staged FTP drop: a folder with one zip or one CSV, named
            // after the agency.
            let with_extension = |extension: &str| -> Vec<&String> {
                names
                    .iter()
                    .filter(|name| name.to_ascii_lowercase().ends_with(extension))
                    .collect()
            };
            return match (
                with_extension(".zip").as_slice(),
                with_extension(".csv").as_slice(),
            ) {
                ([zip], []) => Self::open_zip(&path.join(zip)),
                ([], [csv]) => Self::open(&path.join(csv)),
                _ => Err(PackageError::NoListingsFile {
                    path: path.to_path_buf(),
                    found: list_names(&names),
                }),
            };
        };
        let read_setting = |name: &String| read_small_file(&path.join(name));
        let config = find(CONFIG_FILE).map(read_setting).transpose()?;
        let photos = find(PHOTOS_FILE).map(read_setting).transpose()?;
        Ok(Self {
            path: path.to_path_buf(),
            kind: PackageKind::Directory,
            listings: path.join(listings).display().to_string(),
            config: config.as_deref().map(parse_config),
            photos_mode: photos.as_deref().and_then(parse_photos_mode),
            member_names: names.iter().map(|name| name.to_lowercase()).collect(),
        })
    }

    fn open_zip(path: &Path) -> Result<Self, PackageError> {
        let mut archive = Archive::open(path)?;
        let names = archive.member_names();
        let listings = archive
            .find_member(LISTINGS_FILE)
            .ok_or_else(|| PackageError::NoListingsFile {
                path: path.to_path_buf(),
                found: list_names(&names),
            })?;
        let mut read_setting = |file_name: &str| -> Result<Option<Vec<u8>>, PackageError> {
            match archive.find_member(file_name) {
                Some(member) => Ok(Some(archive.read_member(&member, MAX_SETTINGS_BYTES)?)),
                None => Ok(None),
            }
        };
        let config = read_setting(CONFIG_FILE)?;
        let photos = read_setting(PHOTOS_FILE)?;
        Ok(Self {
            path: path.to_path_buf(),
            kind: PackageKind::Zip,
            listings,
            config: config.as_deref().map(parse_config),
            photos_mode: photos.as_deref().and_then(parse_photos_mode),
            member_names: names
                .iter()
                .map(|name| archive::base_name(name).to_lowercase())
                .collect(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kind(&self) -> PackageKind {
        self.kind
    }

    /// Names the listings file for messages: its path, or `archive.zip!member`.
    pub fn listings_name(&self) -> String {
        match self.kind {
            PackageKind::Zip => format!("{}!{}", self.path.display(), self.listings),
            PackageKind::File | PackageKind::Directory => self.listings.clone(),
        }
    }

    /// Returns the ISO 4217 code for the `Devise` of `Config.txt`. Poliris
    /// prices are in euros unless the file declares another currency.
    pub fn currency_code(&self) -> String {
        let declared = self.config.as_ref().and_then(|config| config.currency.as_deref());
        match declared.map(|currency| currency.trim().to_ascii_lowercase()) {
            Some(currency) if currency.len() == 3 && currency != "eur" => currency.to_ascii_uppercase(),
            _ => "EUR".to_string(),
        }
    }

    /// Returns whether a file of this name was delivered beside the listings file.
    pub fn has_member(&self, file_name: &str) -> bool {
        self.member_names
            .contains(&archive::base_name(file_name).to_lowercase())
    }

    /// Returns whether a photo file name in the listings file can be
    /// imported: it was delivered, or `Photos.cfg` says `Mode=DIFF`, where
    /// files sent by an earlier delivery stay valid.
    pub fn accepts_photo_file(&self, file_name: &str) -> bool {
        self.has_member(file_name) || self.photos_mode == Some(PhotosMode::Diff)
    }

    /// Returns where the delivery's photo files are: the zip, or the folder
    /// of the listings file. A bare listings file has none.
    pub fn photo_files(&self) -> Option<PhotoFiles> {
        match self.kind {
            PackageKind::Zip => Some(PhotoFiles::Zip(self.path.clone())),
            PackageKind::Directory => Some(PhotoFiles::Directory(self.path.clone())),
            PackageKind::File => None,
        }
    }

    /// Reads the whole listings file once and returns the encoding to read
    /// it with: `forced` when given, else the detected one. With a forced
    /// encoding that garbles the file's text, also returns a warning.
    pub fn choose_encoding(
        &self,
        forced: Option<TextEncoding>,
    ) -> Result<(TextEncoding, Option<String>), PackageError> {
        let scan = self
            .with_listings(|source| scan_encoding(source))?
            .map_err(|source| self.listings_error(source))?;
        let Some(encoding) = forced else {
            let warning = scan
                .stray_byte()
                .map(|reason| format!("{}: {reason}", self.listings_name()));
            return Ok((scan.encoding(), warning));
        };
        let warning = scan.forced_mismatch(encoding).map(|reason| {
            format!(
                "--encoding {} forced on {}: {reason}; leave --encoding out to detect it",
                encoding.flag_value(),
                self.listings_name()
            )
        });
        Ok((encoding, warning))
    }

    /// Calls `read` with a buffered reader over the listings file.
    pub fn with_listings<T>(&self, read: impl FnOnce(&mut dyn BufRead) -> T) -> Result<T, PackageError> {
        match self.kind {
            PackageKind::Zip => {
                let mut archive = Archive::open(&self.path)?;
                let member = archive.stream_member(&self.listings)?;
                Ok(read(&mut BufReader::with_capacity(READ_BUFFER_BYTES, member)))
            }
            PackageKind::File | PackageKind::Directory => {
                let file = File::open(&self.listings).map_err(|source| self.listings_error(source))?;
                Ok(read(&mut BufReader::with_capacity(READ_BUFFER_BYTES, file)))
            }
        }
    }

    /// Wraps an I/O error met while reading the listings file.
    pub fn listings_error(&self, source: io::Error) -> PackageError {
        PackageError::Io {
            path: PathBuf::from(self.listings_name()),
            source,
        }
    }
}

fn is_zip(path: &Path) -> Result<bool, PackageError> {
    let mut magic = [0u8; 4];
    let mut file = File::open(path).map_err(|source| PackageError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let read = file.read(&mut magic).map_err(|source| PackageError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(read == 4 && &magic == b"PK\x03\x04")
}

fn read_small_file(path: &Path) -> Result<Vec<u8>, PackageError> {
    let file = File::open(path).map_err(|source| PackageError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_SETTINGS_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|source| PackageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(bytes)
}

fn list_names(names: &[String]) -> String {
    if names.is_empty() {
        return "nothing".to_string();
    }
    let mut shown: Vec<&str> = names.iter().take(10).map(String::as_str).collect();
    if names.len() > shown.len() {
        shown.push("…");
    }
    shown.join(", ")
}

/// Iterates over the `key=value` lines of a settings file, decoded with the
/// encoding its bytes are valid in.
fn settings(bytes: &[u8]) -> Vec<(String, String)> {
    let encoding = detect_encoding(bytes).unwrap_or(TextEncoding::Windows1252);
    let text = encoding.decode(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes));
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_lowercase(), value.trim().to_string()))
        .collect()
}

fn parse_config(bytes: &[u8]) -> PolirisConfig {
    let mut config = PolirisConfig::default();
    for (key, value) in settings(bytes) {
        let value = Some(value).filter(|value| !value.is_empty());
        match key.as_str() {
            "version" => config.version = value,
            "application" => config.application = value,
            "devise" => config.currency = value,
            _ => {}
        }
    }
    config
}

fn parse_photos_mode(bytes: &[u8]) -> Option<PhotosMode> {
    settings(bytes)
        .into_iter()
        .find(|(key, _)| key == "mode")
        .and_then(|(_, value)| match value.to_ascii_uppercase().as_str() {
            "URL" => Some(PhotosMode::Url),
            "FULL" => Some(PhotosMode::Full),
            "DIFF" => Some(PhotosMode::Diff),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_config_lines() {
        let config = parse_config(
            b"Version=4.12\r\nApplication=Propertybase / 3.0\r\nDevise=Euro\r\nChampperso1=Vue\r\n",
        );
        assert_eq!(config.version.as_deref(), Some("4.12"));
        assert_eq!(config.application.as_deref(), Some("Propertybase / 3.0"));
        assert_eq!(config.currency.as_deref(), Some("Euro"));
    }

    #[test]
    fn reads_photos_mode_in_any_case() {
        assert_eq!(parse_photos_mode(b"Mode=URL\r\n"), Some(PhotosMode::Url));
        assert_eq!(parse_photos_mode(b"mode = full"), Some(PhotosMode::Full));
        assert_eq!(parse_photos_mode(b"MODE=Diff\n"), Some(PhotosMode::Diff));
        assert_eq!(parse_photos_mode(b"Mode=FTP"), None);
    }
}
