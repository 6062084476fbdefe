//! CRM formats: how a CRM's raw records are read and turned into listings.
//!
//! [`adapter`] is the contract every CRM implements, [`registry`] the table
//! of known CRMs, and each CRM or format has its own module.

pub mod adapter;
pub mod apimo;
pub mod kyero;
pub mod openimmo;
pub mod poliris;
pub mod registry;
pub mod xml;

pub use registry::{CrmEntry, REGISTRY};
