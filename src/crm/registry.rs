//! The table of every CRM passerelle supports: one line per CRM, read by the
//! command line (`--crm` values, `passerelle crms`), the settings file check
//! and the pipeline. Adding a CRM is one line here plus its adapter module.

use serde::Serialize;
use thiserror::Error;

use super::adapter::Adapter;
use super::apimo::ApimoAdapter;
use super::kyero::KyeroAdapter;
use super::openimmo::OpenImmoAdapter;
use super::poliris::adapter::PolirisAdapter;

/// Channel through which a CRM's payloads reach us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// A file, directory or zip given by path.
    Local,
    /// Files the CRM drops on our FTP server.
    Ftp,
    /// A REST API that passerelle calls.
    Http,
}

/// The format of a CRM's payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// SeLoger "Poliris" CSV, bare or zipped with `Config.txt` and `Photos.cfg`.
    PolirisCsv,
    /// JSON pages of a REST API.
    Json,
    /// Kyero v3 XML feed.
    KyeroXml,
    /// OpenImmo XML, zipped with its attachments.
    OpenimmoXml,
}

/// Whether a CRM's deliveries are whole portfolios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Snapshot {
    /// Every delivery is the whole portfolio.
    Full,
    /// Each delivery declares whether it is (OpenImmo's `umfang`).
    PerDelivery,
}

impl Snapshot {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::PerDelivery => "per_delivery",
        }
    }
}

/// Location of an agency's files on our FTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FtpLayout {
    /// Folder of the CRM, from the FTP root.
    pub folder: &'static str,
    /// File name, `{agency}` standing for the agency code.
    pub file_pattern: &'static str,
    pub zipped: bool,
}

/// One registered CRM.
#[derive(Serialize)]
pub struct CrmEntry {
    /// Code used on the command line, in settings and in the store.
    pub code: &'static str,
    pub name: &'static str,
    pub transport: Transport,
    pub format: Format,
    /// Whether a delivery is the agency's whole portfolio, so that
    /// listings missing from it are withdrawn.
    pub snapshot: Snapshot,
    /// The integration must give a URL (`api_url`): the feed has no
    /// default address.
    pub url_required: bool,
    pub ftp: Option<FtpLayout>,
    /// Names of the credentials an integration must supply, each through an
    /// environment variable it names.
    pub credentials: &'static [&'static str],
    /// Credentials an integration may supply when its server requires them,
    /// such as HTTP Basic auth for a protected feed.
    pub optional_credentials: &'static [&'static str],
    #[serde(skip)]
    pub adapter: &'static dyn Adapter,
}

/// Every CRM passerelle can import, by code.
pub static REGISTRY: &[CrmEntry] = &[
    CrmEntry {
        code: "apimo",
        name: "Apimo, REST API",
        transport: Transport::Http,
        format: Format::Json,
        snapshot: Snapshot::Full,
        url_required: false,
        ftp: None,
        credentials: &["provider", "token"],
        optional_credentials: &[],
        adapter: &ApimoAdapter,
    },
    CrmEntry {
        code: "poliris",
        name: "Any SeLoger/Poliris export given by path",
        transport: Transport::Local,
        format: Format::PolirisCsv,
        snapshot: Snapshot::Full,
        url_required: false,
        ftp: None,
        credentials: &[],
        optional_credentials: &[],
        adapter: &PolirisAdapter,
    },
    CrmEntry {
        code: "hektor",
        name: "Hektor (La Boîte Immo), Poliris export",
        transport: Transport::Ftp,
        format: Format::PolirisCsv,
        snapshot: Snapshot::Full,
        url_required: false,
        ftp: Some(FtpLayout {
            folder: "hektor",
            file_pattern: "{agency}.csv",
            zipped: false,
        }),
        credentials: &[],
        optional_credentials: &[],
        adapter: &PolirisAdapter,
    },
    CrmEntry {
        code: "twimmo",
        name: "Twimmo, Poliris export",
        transport: Transport::Ftp,
        format: Format::PolirisCsv,
        snapshot: Snapshot::Full,
        url_required: false,
        ftp: Some(FtpLayout {
            folder: "twimmo",
            file_pattern: "{agency}.zip",
            zipped: true,
        }),
        credentials: &[],
        optional_credentials: &[],
        adapter: &PolirisAdapter,
    },
    CrmEntry {
        code: "kyero",
        name: "Kyero v3 XML feed, pulled from its URL",
        transport: Transport::Http,
        format: Format::KyeroXml,
        snapshot: Snapshot::Full,
        url_required: true,
        ftp: None,
        credentials: &[],
        optional_credentials: &["user", "password"],
        adapter: &KyeroAdapter,
    },
    CrmEntry {
        code: "openimmo",
        name: "OpenImmo XML, zipped with its attachments, dropped on FTP",
        transport: Transport::Ftp,
        format: Format::OpenimmoXml,
        snapshot: Snapshot::PerDelivery,
        url_required: false,
        ftp: Some(FtpLayout {
            folder: "openimmo",
            file_pattern: "{agency}.zip",
            zipped: true,
        }),
        credentials: &[],
        optional_credentials: &[],
        adapter: &OpenImmoAdapter,
    },
];

/// A CRM code that is not in the registry.
#[derive(Debug, Error)]
#[error("unknown CRM `{code}`")]
pub struct UnknownCrm {
    pub code: String,
}

impl UnknownCrm {
    /// Returns the known code nearest to the unknown one, when it is a
    /// likely typo: at most two letters added, removed or changed.
    pub fn closest(&self) -> Option<&'static str> {
        let code = self.code.to_ascii_lowercase();
        REGISTRY
            .iter()
            .map(|entry| (strsim::levenshtein(&code, entry.code), entry.code))
            .filter(|(distance, _)| *distance <= 2)
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, code)| code)
    }
}

/// Returns the registered CRM with this code.
///
/// # Errors
/// [`UnknownCrm`], which lists the known codes.
pub fn find(code: &str) -> Result<&'static CrmEntry, UnknownCrm> {
    REGISTRY
        .iter()
        .find(|entry| entry.code == code)
        .ok_or_else(|| UnknownCrm {
            code: code.to_string(),
        })
}

/// Returns a hint when a payload's name suggests another format than the
/// CRM's: an `.xml` file read as Poliris CSV, most often because `--crm`
/// was left at its default.
pub fn format_hint(crm: &CrmEntry, payload: &std::path::Path) -> Option<String> {
    let xml = payload
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("xml"));
    (xml && crm.format == Format::PolirisCsv).then(|| {
        format!(
            "{} looks like XML, which {} does not read: pass --crm kyero or --crm openimmo",
            payload.display(),
            crm.code
        )
    })
}

/// Codes of every registered CRM, in table order.
pub fn codes() -> Vec<&'static str> {
    REGISTRY.iter().map(|entry| entry.code).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_lowercase_words() {
        let mut seen = std::collections::HashSet::new();
        for entry in REGISTRY {
            assert!(seen.insert(entry.code), "{} is registered twice", entry.code);
            assert!(
                entry
                    .code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                entry.code
            );
            assert_eq!(
                entry.transport == Transport::Ftp,
                entry.ftp.is_some(),
                "{}",
                entry.code
            );
        }
    }

    #[test]
    fn unknown_code_suggests_a_near_one() {
        let error = find("nosuchcrm").err().unwrap();
        assert_eq!(error.to_string(), "unknown CRM `nosuchcrm`");
        assert_eq!(error.closest(), None);
        assert_eq!(find("Hecktor").err().unwrap().closest(), Some("hektor"));
        assert_eq!(find("hektor").unwrap().format, Format::PolirisCsv);
    }
}
