//! How CRM payloads reach passerelle: local archives, FTP drops and HTTP APIs.

pub mod archive;
pub mod ftp;
pub mod http;
