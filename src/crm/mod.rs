//! CRM formats: how a CRM's raw records are read and turned into listings.

pub mod poliris;
