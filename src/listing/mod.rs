//! The normalized listing: one property offered by one agency, whatever CRM
//! it came from.
//!
//! Every adapter converts its raw records into [`Listing`]. Fields the CRM did
//! not fill, or filled with a placeholder (`00/00/0000`, an empty number), are
//! `None`: unknown is never stored as zero. Store bookkeeping (content hash,
//! first seen, withdrawal) lives in the store, not here.

mod kinds;

pub use kinds::{Coded, EnergyClass, PropertyKind, TransactionKind};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    /// Code of the CRM adapter that produced the listing, e.g. `poliris`.
    pub crm: String,
    /// The agency's id in the CRM, as the integration knows it.
    pub agency_code: String,
    /// The agency id written in the record itself, when the format has one
    /// (Poliris column 1).
    pub crm_agency_id: Option<String>,
    /// Stable technical id of the listing in the CRM; with the CRM and the
    /// agency code it identifies the listing.
    pub source_id: String,
    /// Reference shown to people (the agency's own listing number).
    pub reference: Option<String>,
    pub organization: Option<String>,
    /// Agent on our side, resolved through the integration's agent mapping.
    pub agent: Option<String>,

    pub transaction: Coded<TransactionKind>,
    pub property: Coded<PropertyKind>,
    /// Finer property type as the CRM wrote it (e.g. `Maison de village`).
    pub property_subtype: Option<String>,
    pub price: Option<Price>,
    /// Monthly charges paid by a tenant, in the price's currency.
    pub charges: Option<f64>,
    pub fees: Option<Fees>,
    /// Security deposit, in the price's currency.
    pub deposit: Option<f64>,

    /// Living area in m².
    pub living_area: Option<f64>,
    /// Land area in m².
    pub land_area: Option<f64>,
    pub rooms: Option<u32>,
    pub bedrooms: Option<u32>,
    pub bathrooms: Option<u32>,
    pub shower_rooms: Option<u32>,
    /// Floor of the property; 0 is the ground floor.
    pub floor: Option<i32>,
    /// Number of floors of the building.
    pub floors: Option<u32>,
    pub year_built: Option<u16>,
    pub available_from: Option<NaiveDate>,

    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,

    pub title: Option<String>,
    /// Plain text; line breaks are `\n`, no markup remains.
    pub description: Option<String>,
    pub translations: Vec<Translation>,

    /// Energy performance (DPE, `diagnostic de performance énergétique`),
    /// value in kWh of primary energy per m² and year.
    pub dpe: Option<EnergyRating>,
    /// Greenhouse-gas emissions (GES), value in kg CO₂ equivalent per m² and year.
    pub ges: Option<EnergyRating>,
    pub dpe_date: Option<NaiveDate>,

    pub features: Features,
    /// Link to a virtual tour or video of the property.
    pub virtual_tour: Option<String>,
    /// Photos in the CRM's order; the first is the main photo.
    pub photos: Vec<Photo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub amount: f64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// Set for rents; `None` for sale prices.
    pub period: Option<RentPeriod>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RentPeriod {
    Week,
    Month,
    Year,
}

/// Agency fees, as a share of the price (sales) or an amount (rents).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fees {
    pub value: f64,
    pub unit: FeeUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeUnit {
    /// Percent of the price without fees.
    Percent,
    /// An amount in the price's currency.
    Amount,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Translation {
    /// Language code as the CRM wrote it, upper-cased (e.g. `EN`).
    pub language: String,
    pub title: Option<String>,
    pub description: Option<String>,
}

/// A DPE or GES diagnosis: a class, a value, or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnergyRating {
    pub class: Option<Coded<EnergyClass>>,
    pub value: Option<f64>,
}

/// Yes/no features; `None` where the CRM did not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    pub furnished: Option<bool>,
    pub lift: Option<bool>,
    pub cellar: Option<bool>,
    pub terrace: Option<bool>,
    pub pool: Option<bool>,
    pub air_conditioning: Option<bool>,
    pub fireplace: Option<bool>,
    pub disabled_access: Option<bool>,
    pub exclusive_mandate: Option<bool>,
    pub works_needed: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    pub source: PhotoSource,
    pub caption: Option<String>,
}

/// Where a photo comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "location")]
pub enum PhotoSource {
    /// An http(s) URL to download.
    Url(String),
    /// A file delivered inside the CRM's archive or directory, by its member name.
    ArchiveMember(String),
}

impl PhotoSource {
    pub fn location(&self) -> &str {
        match self {
            Self::Url(url) => url,
            Self::ArchiveMember(name) => name,
        }
    }
}
