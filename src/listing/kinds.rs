//! Typed codes of a listing that keep the CRM's own wording beside them.

use serde::{Deserialize, Serialize};

/// A typed value read from a CRM code, with the raw text it came from.
///
/// The raw text is kept so that a support engineer can see what the CRM sent
/// (for example `Vente de prestige` behind [`TransactionKind::Sale`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coded<K> {
    pub kind: K,
    pub raw: String,
}

impl<K> Coded<K> {
    pub fn new(kind: K, raw: impl Into<String>) -> Self {
        Self {
            kind,
            raw: raw.into(),
        }
    }
}

/// What the agency offers: the kind of transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    Sale,
    Rent,
    HolidayRent,
    /// French `viager`: a sale paid partly as a life annuity.
    LifeAnnuitySale,
    /// Sale of a going concern (`vente fonds de commerce`).
    BusinessTransfer,
    /// Transfer of a commercial lease (`cession de bail`).
    LeaseTransfer,
    /// A property sold as an investment, usually with a tenant in place.
    InvestmentSale,
    /// A house model offered by a builder (`produit catalogue`).
    NewBuildCatalogue,
    Auction,
}

impl TransactionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sale => "sale",
            Self::Rent => "rent",
            Self::HolidayRent => "holiday_rent",
            Self::LifeAnnuitySale => "life_annuity_sale",
            Self::BusinessTransfer => "business_transfer",
            Self::LeaseTransfer => "lease_transfer",
            Self::InvestmentSale => "investment_sale",
            Self::NewBuildCatalogue => "new_build_catalogue",
            Self::Auction => "auction",
        }
    }

    /// Whether the price is a periodic rent rather than a sale price.
    pub fn is_rental(self) -> bool {
        matches!(self, Self::Rent | Self::HolidayRent)
    }
}

/// The kind of property, coarse enough to compare CRMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyKind {
    Apartment,
    House,
    Land,
    Parking,
    /// Shop or commercial premises (`local`, `boutique`).
    Commercial,
    Office,
    /// A whole building (`immeuble`, `bâtiment`).
    Building,
    /// Castle or mansion (`château`, `hôtel particulier`).
    Mansion,
    /// Loft, workshop or open space (`loft/atelier/surface`).
    Loft,
    /// A business sold with its premises (`entreprises`).
    Business,
    /// A builder's house model (`modèle de maison`).
    HouseModel,
    /// The CRM gave no usable kind; the raw value says what it sent.
    Other,
}

impl PropertyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apartment => "apartment",
            Self::House => "house",
            Self::Land => "land",
            Self::Parking => "parking",
            Self::Commercial => "commercial",
            Self::Office => "office",
            Self::Building => "building",
            Self::Mansion => "mansion",
            Self::Loft => "loft",
            Self::Business => "business",
            Self::HouseModel => "house_model",
            Self::Other => "other",
        }
    }
}

/// A French energy-performance class (DPE or GES).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EnergyClass {
    A,
    B,
    C,
    D,
    E,
    F,
    G,
    /// `VI` (vierge): the diagnosis was made but gives no class.
    #[serde(rename = "blank")]
    Blank,
    /// `NS` (non soumis): the property is exempt from the diagnosis.
    #[serde(rename = "not_subject")]
    NotSubject,
}

impl EnergyClass {
    /// Parses the class codes used by French CRMs: `A`–`G`, `VI` and `NS`,
    /// in any letter case.
    pub fn from_code(code: &str) -> Option<Self> {
        let class = match code.trim().to_ascii_uppercase().as_str() {
            "A" => Self::A,
            "B" => Self::B,
            "C" => Self::C,
            "D" => Self::D,
            "E" => Self::E,
            "F" => Self::F,
            "G" => Self::G,
            "VI" | "VIERGE" => Self::Blank,
            "NS" | "NON SOUMIS" => Self::NotSubject,
            _ => return None,
        };
        Some(class)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
            Self::E => "E",
            Self::F => "F",
            Self::G => "G",
            Self::Blank => "blank",
            Self::NotSubject => "not_subject",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_class_codes() {
        assert_eq!(EnergyClass::from_code("d"), Some(EnergyClass::D));
        assert_eq!(EnergyClass::from_code(" VI "), Some(EnergyClass::Blank));
        assert_eq!(EnergyClass::from_code("ns"), Some(EnergyClass::NotSubject));
        assert_eq!(EnergyClass::from_code("H"), None);
        assert_eq!(EnergyClass::from_code("185"), None);
    }

    #[test]
    fn coded_serializes_kind_and_raw() {
        let coded = Coded::new(TransactionKind::Sale, "Vente de prestige");
        let json = serde_json::to_string(&coded).unwrap();
        assert_eq!(json, r#"{"kind":"sale","raw":"Vente de prestige"}"#);
    }
}
