//! Tests that drive the `passerelle` binary on fixture files and real
//! exports, with a real SQLite file in a temporary directory.

mod apimo;
mod config;
mod crms;
mod docs;
mod ftp;
mod gallery;
mod import;
mod kyero;
mod openimmo;
mod output;
mod parse;
mod photos;
mod postgres;
mod rendering;
mod runs;
mod samples;
mod support;
mod sync;
