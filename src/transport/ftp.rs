//! FTP drops: CRMs upload one file per agency into a folder of our FTP
//! server, and passerelle downloads it.
//!
//! FTP has no locking, so a file may still be uploading when we look. A file
//! is taken only when it is older than a minimum age, or when its size and
//! modification time are the same in two listings a set interval apart.
//! Otherwise it is left for the next run. Downloads go to a `.part` name and
//! are renamed when complete and of the announced size. Files on the server
//! are left in place.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;
use suppaftp::list::{File as ListedFile, ListParser};

use rustls_platform_verifier::ConfigVerifierExt;
use suppaftp::tokio::{
    AsyncFtpStream, AsyncRustlsConnector, AsyncRustlsFtpStream, ImplAsyncFtpStream, TokioTlsStream,
};
use suppaftp::types::FileType;
use thiserror::Error;
use tokio::io::AsyncWriteExt;

/// How to reach our FTP server and when a dropped file counts as complete.
#[derive(Debug, Clone)]
pub struct FtpSettings {
    pub host: String,
    pub port: u16,
    /// Secure the connection with explicit FTPS (`AUTH TLS`) before logging in.
    pub tls: bool,
    /// PEM file of the certificates to trust for FTPS, for a server whose
    /// certificate no public authority signed; else the system's roots.
    pub tls_ca_file: Option<PathBuf>,
    pub user: String,
    pub password: String,
    /// Name of the environment variable the password came from, for messages.
    pub password_variable: String,
    pub connect_timeout: Duration,
    /// Time allowed for each command and each transfer.
    pub timeout: Duration,
    /// Interval between the two listings that show a file is complete.
    pub stable_interval: Duration,
    /// A file older than this is complete without a second listing.
    pub min_age: Duration,
}

#[derive(Debug, Error)]
pub enum FtpError {
    #[error("cannot set up TLS for FTPS: {reason}")]
    Tls { reason: String },
    #[error("cannot connect to FTP server {address}")]
    Connect {
        address: String,
        #[source]
        source: suppaftp::FtpError,
    },
    #[error("the FTP server {address} refused the login of user {user}")]
    Login {
        address: String,
        user: String,
        variable: String,
    },
    #[error("folder {folder} does not exist on the FTP server")]
    MissingFolder { folder: String },
    #[error("no file named {file} in folder {folder} of the FTP server (found: {found})")]
    MissingFile {
        folder: String,
        file: String,
        found: String,
    },
    #[error(
        "{folder}/{file} is still being uploaded (its size or date changed within {seconds} s); it is left \
         for the next run"
    )]
    StillUploading {
        folder: String,
        file: String,
        seconds: u64,
    },
    #[error("FTP {action} failed")]
    Command {
        action: String,
        #[source]
        source: suppaftp::FtpError,
    },
    #[error("FTP {action} timed out after {seconds} s")]
    TimedOut { action: String, seconds: u64 },
    #[error("{folder}/{file} is no longer on the FTP server; nothing was moved")]
    DropGone { folder: String, file: String },
    #[error("a newer {folder}/{file} was dropped since the fetch; it is left in place for the next run")]
    DropReplaced { folder: String, file: String },
    #[error("downloaded {got} bytes of {folder}/{file}, but the server listed {expected}")]
    Truncated {
        folder: String,
        file: String,
        got: u64,
        expected: u64,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Downloads `folder/file_name` (matched without regard to letter case)
/// into `target_dir`, which is created, and returns the local path.
///
/// # Errors
/// See [`FtpError`]; a file still being uploaded is
/// [`FtpError::StillUploading`].
pub async fn fetch_drop(
    settings: &FtpSettings,
    folder: &str,
    file_name: &str,
    target_dir: &Path,
) -> Result<Fetched, FtpError> {
    if settings.tls {
        let mut ftp = connect_secure(settings).await?;
        let result = fetch_with(&mut ftp, settings, folder, file_name, target_dir).await;
        let _ = ftp.quit().await;
        result
    } else {
        let mut ftp = connect(settings).await?;
        let result = fetch_with(&mut ftp, settings, folder, file_name, target_dir).await;
        let _ = ftp.quit().await;
        result
    }
}

fn address(settings: &FtpSettings) -> String {
    format!("{}:{}", settings.host, settings.port)
}

/// Opens the control connection, without logging in.
async fn open<T: TokioTlsStream + Send>(settings: &FtpSettings) -> Result<ImplAsyncFtpStream<T>, FtpError> {
    let address = address(settings);
    let socket: SocketAddr = address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| FtpError::Connect {
            address: address.clone(),
            source: suppaftp::FtpError::ConnectionError(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "host name not found",
            )),
        })?;
    ImplAsyncFtpStream::<T>::connect_timeout(socket, settings.connect_timeout)
        .await
        .map_err(|source| FtpError::Connect { address, source })
}

async fn login<T: TokioTlsStream + Send>(
    ftp: &mut ImplAsyncFtpStream<T>,
    settings: &FtpSettings,
) -> Result<(), FtpError> {
    timed(
        settings,
        "login",
        ftp.login(settings.user.as_str(), settings.password.as_str()),
    )
    .await
    .map_err(|error| match error {
        FtpError::Command { .. } => FtpError::Login {
            address: address(settings),
            user: settings.user.clone(),
            variable: settings.password_variable.clone(),
        },
        other => other,
    })
}

async fn connect(settings: &FtpSettings) -> Result<AsyncFtpStream, FtpError> {
    let mut ftp = open(settings).await?;
    login(&mut ftp, settings).await?;
    Ok(ftp)
}

/// Connects, switches to TLS with `AUTH TLS` (data connections too), then
/// logs in, so the password never crosses the network in clear.
async fn connect_secure(settings: &FtpSettings) -> Result<AsyncRustlsFtpStream, FtpError> {
    let config = tls_config(settings.tls_ca_file.as_deref())?;
    let connector = AsyncRustlsConnector::from(tokio_rustls::TlsConnector::from(Arc::new(config)));
    let ftp: AsyncRustlsFtpStream = open(settings).await?;
    let mut ftp = timed(
        settings,
        "TLS handshake",
        ftp.into_secure(connector, &settings.host),
    )
    .await?;
    login(&mut ftp, settings).await?;
    Ok(ftp)
}

fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, FtpError> {
    crate::transport::install_crypto_provider();
    let tls_error = |reason: String| FtpError::Tls { reason };
    let Some(ca_file) = ca_file else {
        return rustls::ClientConfig::with_platform_verifier().map_err(|error| tls_error(error.to_string()));
    };
    let pem = std::fs::read(ca_file)
        .map_err(|error| tls_error(format!("cannot read {}: {error}", ca_file.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_pemfile::certs(&mut pem.as_slice()) {
        let certificate = certificate
            .map_err(|error| tls_error(format!("invalid certificate in {}: {error}", ca_file.display())))?;
        roots
            .add(certificate)
            .map_err(|error| tls_error(format!("unusable certificate in {}: {error}", ca_file.display())))?;
    }
    if roots.is_empty() {
        return Err(tls_error(format!("no certificate in {}", ca_file.display())));
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

async fn fetch_with<T: TokioTlsStream + Send>(
    ftp: &mut ImplAsyncFtpStream<T>,
    settings: &FtpSettings,
    folder: &str,
    file_name: &str,
    target_dir: &Path,
) -> Result<Fetched, FtpError> {
    timed(settings, "change folder", ftp.cwd(folder))
        .await
        .map_err(|_| FtpError::MissingFolder {
            folder: folder.to_string(),
        })?;
    let first = find_file(ftp, settings, folder, file_name).await?;
    let age = first.modified().elapsed().unwrap_or_default();
    if age < settings.min_age {
        tokio::time::sleep(settings.stable_interval).await;
        let second = find_file(ftp, settings, folder, file_name).await?;
        if second.size() != first.size() || second.modified() != first.modified() {
            return Err(FtpError::StillUploading {
                folder: folder.to_string(),
                file: first.name().to_string(),
                seconds: settings.stable_interval.as_secs(),
            });
        }
    }
    let path = download(ftp, settings, folder, &first, target_dir).await?;
    Ok(Fetched {
        path,
        remote_name: first.name().to_string(),
        size: first.size() as u64,
        modified: modified_text(&first),
    })
}

/// A downloaded drop and what the server listed for it.
#[derive(Debug)]
pub struct Fetched {
    pub path: PathBuf,
    pub remote_name: String,
    pub size: u64,
    /// Modification time the server listed, RFC 3339.
    pub modified: String,
}

fn modified_text(file: &ListedFile) -> String {
    chrono::DateTime::<chrono::Utc>::from(file.modified()).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Lists the folder and returns the file named `file_name`, compared
/// without regard to letter case.
async fn find_file<T: TokioTlsStream + Send>(
    ftp: &mut ImplAsyncFtpStream<T>,
    settings: &FtpSettings,
    folder: &str,
    file_name: &str,
) -> Result<ListedFile, FtpError> {
    let lines = timed(settings, "listing", ftp.mlsd(None)).await?;
    let files: Vec<ListedFile> = lines
        .iter()
        .filter_map(|line| ListParser::parse_mlsd(line).ok())
        .filter(ListedFile::is_file)
        .collect();
    files
        .iter()
        .find(|file| file.name().eq_ignore_ascii_case(file_name))
        .cloned()
        .ok_or_else(|| {
            let names: Vec<&str> = files.iter().take(10).map(ListedFile::name).collect();
            FtpError::MissingFile {
                folder: folder.to_string(),
                file: file_name.to_string(),
                found: if names.is_empty() {
                    "nothing".to_string()
                } else {
                    names.join(", ")
                },
            }
        })
}

async fn download<T: TokioTlsStream + Send>(
    ftp: &mut ImplAsyncFtpStream<T>,
    settings: &FtpSettings,
    folder: &str,
    remote: &ListedFile,
    target_dir: &Path,
) -> Result<PathBuf, FtpError> {
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FtpError::Write { path, source }
    };
    tokio::fs::create_dir_all(target_dir)
        .await
        .map_err(write_error(target_dir))?;
    // The remote name is only kept when it is a plain file name.
    let local_name = Path::new(remote.name())
        .file_name()
        .map_or_else(|| "download".into(), |name| name.to_owned());
    let target = target_dir.join(&local_name);
    let partial = target_dir.join(format!("{}.part", local_name.to_string_lossy()));

    timed(settings, "binary mode", ftp.transfer_type(FileType::Binary)).await?;
    let mut stream = timed(settings, "download", ftp.retr_as_stream(remote.name())).await?;
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(write_error(&partial))?;
    let copied = tokio::time::timeout(settings.timeout, tokio::io::copy(&mut stream, &mut file))
        .await
        .map_err(|_| FtpError::TimedOut {
            action: "download".to_string(),
            seconds: settings.timeout.as_secs(),
        })?
        .map_err(write_error(&partial))?;
    file.flush().await.map_err(write_error(&partial))?;
    drop(file);
    timed(settings, "download", stream.finish()).await?;
    if copied != remote.size() as u64 {
        return Err(FtpError::Truncated {
            folder: folder.to_string(),
            file: remote.name().to_string(),
            got: copied,
            expected: remote.size() as u64,
        });
    }
    tokio::fs::rename(&partial, &target)
        .await
        .map_err(write_error(&target))?;
    Ok(target)
}

/// Runs one FTP command with the settings' timeout.
async fn timed<T>(
    settings: &FtpSettings,
    action: &str,
    command: impl std::future::Future<Output = suppaftp::FtpResult<T>>,
) -> Result<T, FtpError> {
    tracing::debug!(host = %settings.host, action, "FTP command");
    match tokio::time::timeout(settings.timeout, command).await {
        Err(_) => Err(FtpError::TimedOut {
            action: action.to_string(),
            seconds: settings.timeout.as_secs(),
        }),
        Ok(Err(source)) => Err(FtpError::Command {
            action: action.to_string(),
            source,
        }),
        Ok(Ok(value)) => Ok(value),
    }
}

/// Moves the drop a manifest describes into `processed_folder`, inside its
/// folder, creating that folder when missing. Only the very file that was
/// fetched moves: a newer drop of the same name is left for the next run.
/// A file of the same name already in the processed folder is kept, and
/// the moved one gets a UTC time suffix.
///
/// # Errors
/// The drop is gone or was replaced, or a connection, login or command
/// failed.
pub async fn move_to_processed(
    settings: &FtpSettings,
    drop: &DropManifest,
    processed_folder: &str,
) -> Result<String, FtpError> {
    if settings.tls {
        let mut ftp = connect_secure(settings).await?;
        let result = move_with(&mut ftp, settings, drop, processed_folder).await;
        let _ = ftp.quit().await;
        result
    } else {
        let mut ftp = connect(settings).await?;
        let result = move_with(&mut ftp, settings, drop, processed_folder).await;
        let _ = ftp.quit().await;
        result
    }
}

async fn move_with<T: TokioTlsStream + Send>(
    ftp: &mut ImplAsyncFtpStream<T>,
    settings: &FtpSettings,
    drop: &DropManifest,
    processed_folder: &str,
) -> Result<String, FtpError> {
    let folder = drop.folder.as_str();
    timed(settings, "change folder", ftp.cwd(folder))
        .await
        .map_err(|_| FtpError::MissingFolder {
            folder: folder.to_string(),
        })?;
    let current = match find_file(ftp, settings, folder, &drop.file).await {
        Ok(current) => current,
        Err(FtpError::MissingFile { .. }) => {
            return Err(FtpError::DropGone {
                folder: folder.to_string(),
                file: drop.file.clone(),
            });
        }
        Err(other) => return Err(other),
    };
    if current.size() as u64 != drop.size || modified_text(&current) != drop.modified {
        return Err(FtpError::DropReplaced {
            folder: folder.to_string(),
            file: drop.file.clone(),
        });
    }
    // The folder may exist already; a real failure shows at the rename.
    let _ = timed(settings, "create folder", ftp.mkdir(processed_folder)).await;
    let taken = timed(settings, "listing", ftp.mlsd(Some(processed_folder)))
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|line| ListParser::parse_mlsd(line).ok())
        .any(|file| file.name() == drop.file);
    let mut target = format!("{processed_folder}/{}", drop.file);
    if taken {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        target = format!("{processed_folder}/{}.{stamp}", drop.file);
    }
    timed(
        settings,
        "rename",
        ftp.rename(drop.file.as_str(), target.as_str()),
    )
    .await?;
    Ok(format!("{folder}/{target}"))
}

/// Record of an FTP fetch, written beside the downloaded file so that a
/// later import can find the file on the server again.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DropManifest {
    pub crm: String,
    pub agency: String,
    pub folder: String,
    /// The file's name on the server.
    pub file: String,
    pub size: u64,
    /// Modification time the server listed, RFC 3339.
    pub modified: String,
    pub fetched_at: String,
}

/// Name of the manifest in a staged FTP drop.
pub const DROP_MANIFEST: &str = "fetch.json";

/// Returns the remote file name of an agency's drop: the layout's pattern
/// with `{agency}` replaced.
pub fn drop_file_name(pattern: &str, agency: &str) -> String {
    pattern.replace("{agency}", agency)
}
