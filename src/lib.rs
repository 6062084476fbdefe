//! passerelle: a batch importer that brings real-estate CRM exports into one
//! property database.
//!
//! The binary is a thin layer over this library: [`cli`] defines the
//! arguments, [`commands`] runs each subcommand, and the work itself lives
//! in [`crm`] (one module per CRM format), [`pipeline`] (one import run),
//! [`photos`] (download, resize and storage of photos), [`store`] (the
//! database) and [`report`] (everything printed).

pub mod cli;
pub mod commands;
pub mod config;
pub mod crm;
pub mod encoding;
pub mod exit;
pub mod listing;
pub mod notify;
pub mod photos;
pub mod pipeline;
pub mod record;
pub mod report;
pub mod store;
pub mod transport;
