//! How CRM payloads reach passerelle. Only local archives exist so far.

pub mod archive;
