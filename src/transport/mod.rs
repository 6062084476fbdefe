//! How CRM payloads reach passerelle: local archives and HTTP APIs.

pub mod archive;
pub mod http;
