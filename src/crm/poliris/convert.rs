//! Conversion of one decoded Poliris record into a [`Listing`].
//!
//! A record is rejected only when it cannot become a listing at all: no id,
//! or a transaction type outside the specification. Any other field that
//! cannot be read is left unknown and reported as a warning with its rank,
//! value and reason, so one bad field never loses a whole listing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Display;

use unicode_normalization::UnicodeNormalization;

use super::columns::rank;
use super::values::{parse_bool, parse_count, parse_date, parse_decimal, parse_integer, plain_text};
use crate::listing::{
    Coded, EnergyClass, EnergyRating, Features, FeeUnit, Fees, Listing, Photo, PhotoSource, Price,
    PropertyKind, RentPeriod, TransactionKind, Translation,
};

/// Settings of a conversion besides the record itself.
#[derive(Debug, Clone)]
pub struct ConvertSettings {
    /// CRM code stored in each listing, e.g. `poliris` or `hektor`.
    pub crm: String,
    /// Agency code of the integration; `None` takes column 1 of each record.
    pub agency_code: Option<String>,
    pub organization: Option<String>,
    pub agents: AgentMapping,
    pub default_agent: Option<String>,
    /// ISO 4217 currency of prices, from `Config.txt` (`Devise`), else EUR.
    pub currency: String,
}

/// Maps a CRM's negotiator code or contact e-mail to an agent on our side.
/// Keys are compared case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct AgentMapping(HashMap<String, String>);

impl AgentMapping {
    pub fn insert(&mut self, key: &str, agent: &str) {
        self.0.insert(key.trim().to_lowercase(), agent.trim().to_string());
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(&key.trim().to_lowercase()).map(String::as_str)
    }
}

/// A field that could not be used, with its 1-based rank and raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub rank: usize,
    pub value: String,
    pub reason: String,
}

/// One line of `parse --explain`: a column and the listing field it became.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceEntry {
    pub rank: usize,
    pub field: &'static str,
    pub value: String,
}

/// The result of a conversion that produced a listing.
#[derive(Debug, Clone)]
pub struct Converted {
    pub listing: Listing,
    pub warnings: Vec<FieldProblem>,
}

/// Converts a record given as text fields in rank order (index 0 is rank 1).
///
/// `has_member` returns whether a photo file name was delivered with the
/// listings file. With `trace`, each column used is recorded with the field
/// it filled.
///
/// # Errors
/// The problem that makes the record unusable.
pub fn convert_record(
    fields: &[Cow<'_, str>],
    settings: &ConvertSettings,
    has_member: &dyn Fn(&str) -> bool,
    trace: Option<&mut Vec<TraceEntry>>,
) -> Result<Converted, FieldProblem> {
    let mut record = Fields {
        values: fields,
        warnings: Vec::new(),
        trace,
    };

    let source_id = record.source_id()?;
    let transaction = record.transaction()?;
    let property = record.property();
    let currency = settings.currency.clone();
    let agent = record.agent(settings);
    let crm_agency_id = record.text(rank::AGENCY_ID).map(str::to_string);
    let agency_code = settings
        .agency_code
        .clone()
        .or_else(|| crm_agency_id.clone())
        .unwrap_or_default();
    let (postal_code, city) = record.place();

    let listing = Listing {
        crm: settings.crm.clone(),
        agency_code,
        crm_agency_id,
        source_id,
        reference: record.traced_text(rank::REFERENCE, "reference"),
        organization: settings.organization.clone(),
        agent,
        price: record.price(transaction.kind, currency),
        charges: record.decimal(rank::CHARGES, "charges"),
        fees: record.fees(transaction.kind),
        deposit: record.decimal(rank::DEPOSIT, "deposit"),
        property_subtype: record.traced_text(rank::PROPERTY_SUBTYPE, "property_subtype"),
        transaction,
        property,
        living_area: record.decimal(rank::LIVING_AREA, "living_area"),
        land_area: record.decimal(rank::LAND_AREA, "land_area"),
        rooms: record.count(rank::ROOMS, "rooms"),
        bedrooms: record.count(rank::BEDROOMS, "bedrooms"),
        bathrooms: record.count(rank::BATHROOMS, "bathrooms"),
        shower_rooms: record.count(rank::SHOWER_ROOMS, "shower_rooms"),
        floor: record.floor(),
        floors: record.count(rank::FLOORS, "floors"),
        year_built: record.year_built(),
        available_from: record.date(rank::AVAILABLE_FROM, "available_from"),
        address: record.traced_text(rank::ADDRESS, "address"),
        postal_code,
        city,
        country: record.traced_text(rank::COUNTRY, "country"),
        latitude: record.coordinate(rank::LATITUDE, "latitude", 90.0),
        longitude: record.coordinate(rank::LONGITUDE, "longitude", 180.0),
        title: record.plain(rank::TITLE, "title"),
        description: record.plain(rank::DESCRIPTION, "description"),
        translations: record.translations(),
        dpe: record.energy(rank::DPE_VALUE, rank::DPE_CLASS, "dpe"),
        ges: record.energy(rank::GES_VALUE, rank::GES_CLASS, "ges"),
        dpe_date: record.date(rank::DPE_DATE, "dpe_date"),
        features: record.features(),
        virtual_tour: record.traced_text(rank::VIRTUAL_TOUR, "virtual_tour"),
        photos: record.photos(has_member),
    };
    Ok(Converted {
        listing,
        warnings: record.warnings,
    })
}

/// Lower-cases, strips accents and folds separators, so that `Vente de
/// Prestige`, `vente-de-prestige` and `VENTE DE PRESTIGE` compare equal.
pub fn fold_code(text: &str) -> String {
    let stripped: String = text
        .nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .map(|c| match c {
            '-' | '_' | '\'' | '’' | '/' => ' ',
            other => other.to_ascii_lowercase(),
        })
        .collect();
    stripped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Maps a Poliris `Type d'annonce` (rank 3) to a transaction kind. The nine
/// values of the specification are accepted, with the English ones a
/// portal-side validator also takes.
pub fn transaction_kind(raw: &str) -> Option<TransactionKind> {
    let kind = match fold_code(raw).as_str() {
        "vente" | "vente de prestige" | "prestige" | "sale" | "luxury sale" => TransactionKind::Sale,
        "location" | "rental" | "rent" | "location annuelle" => TransactionKind::Rent,
        "location vacances" | "location saisonniere" | "holiday rental" => TransactionKind::HolidayRent,
        "viager" | "life annuity" => TransactionKind::LifeAnnuitySale,
        "cession de bail" | "lease termination" | "lease transfer" => TransactionKind::LeaseTransfer,
        "vente fonds de commerce" | "fonds de commerce" | "sale of business assets" => {
            TransactionKind::BusinessTransfer
        }
        "produit d investissement" | "investment product" => TransactionKind::InvestmentSale,
        "produit catalogue" => TransactionKind::NewBuildCatalogue,
        "vente aux encheres" | "encheres" | "auction" => TransactionKind::Auction,
        _ => return None,
    };
    Some(kind)
}

/// Maps a Poliris `Type de bien` (rank 4) to a property kind; `None` when
/// the value is unknown.
pub fn property_kind(raw: &str) -> Option<PropertyKind> {
    let folded = fold_code(raw);
    let kind = match folded.as_str() {
        "appartement" | "apartment" | "studio" | "duplex" | "triplex" | "studette" => PropertyKind::Apartment,
        "maison villa" | "maison" | "villa" | "maison avec terrain" | "house" | "pavillon" => {
            PropertyKind::House
        }
        "terrain" | "land" => PropertyKind::Land,
        "parking box" | "parking" | "box" | "garage" => PropertyKind::Parking,
        "local" | "boutique" | "local commercial" | "commerce" | "commercial" => PropertyKind::Commercial,
        "bureaux" | "bureau" | "office" => PropertyKind::Office,
        "immeuble" | "batiment" | "building" => PropertyKind::Building,
        "chateau" | "hotel particulier" => PropertyKind::Mansion,
        "loft atelier surface" | "loft" | "atelier" => PropertyKind::Loft,
        "entreprises" | "entreprise" => PropertyKind::Business,
        "modele de maison" => PropertyKind::HouseModel,
        _ => return None,
    };
    Some(kind)
}

/// Guesses a property kind from a `Sous type de bien` (rank 181), used when
/// rank 4 is `inconnu` or an unknown value.
fn subtype_kind(raw: &str) -> Option<PropertyKind> {
    let folded = fold_code(raw);
    let first_word = folded.split(' ').next().unwrap_or("");
    let kind = match first_word {
        "studette" | "duplex" | "triplex" | "chambre" | "appartement" | "studio" => PropertyKind::Apartment,
        "maison" | "villa" | "mas" | "mazet" | "bastide" | "bastidon" | "chalet" | "longere" | "pavillon"
        | "ferme" | "fermette" | "corps" | "propriete" | "demeure" | "domaine" | "manoir" | "moulin"
        | "bergerie" | "grange" | "riad" | "toulousaine" | "echoppe" | "cabanon" => PropertyKind::House,
        "terrain" | "lotissement" => PropertyKind::Land,
        "immeuble" => PropertyKind::Building,
        "local" | "entrepot" => PropertyKind::Commercial,
        "loft" => PropertyKind::Loft,
        _ => return None,
    };
    Some(kind)
}

/// Returns whether two spellings name the same town: equal once folded,
/// with `st` and `ste` read as `saint` and `sainte`.
fn same_place(first: &str, second: &str) -> bool {
    let expand = |name: &str| {
        fold_code(name)
            .split(' ')
            .map(|word| match word {
                "st" => "saint",
                "ste" => "sainte",
                other => other,
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    expand(first) == expand(second)
}

struct Fields<'a, 't> {
    values: &'a [Cow<'a, str>],
    warnings: Vec<FieldProblem>,
    trace: Option<&'t mut Vec<TraceEntry>>,
}

impl<'a> Fields<'a, '_> {
    /// Returns the trimmed value at a rank, or `None` when it is empty or
    /// beyond the record.
    fn text(&self, rank: usize) -> Option<&'a str> {
        let value = self.values.get(rank - 1)?.trim();
        (!value.is_empty()).then_some(value)
    }

    /// Records in the trace, when there is one, that `rank` filled `field`.
    fn note(&mut self, rank: usize, field: &'static str, value: impl Display) {
        if let Some(trace) = self.trace.as_deref_mut() {
            trace.push(TraceEntry {
                rank,
                field,
                value: value.to_string(),
            });
        }
    }

    fn warn(&mut self, rank: usize, reason: String) {
        let value = self.text(rank).unwrap_or_default().to_string();
        self.note(rank, "(ignored)", &reason);
        self.warnings.push(FieldProblem { rank, value, reason });
    }

    fn traced_text(&mut self, rank: usize, field: &'static str) -> Option<String> {
        let value = self.text(rank)?;
        self.note(rank, field, value);
        Some(value.to_string())
    }

    fn plain(&mut self, rank: usize, field: &'static str) -> Option<String> {
        let value = plain_text(self.text(rank)?);
        if value.is_empty() {
            return None;
        }
        self.note(rank, field, format_args!("{value:?}"));
        Some(value)
    }

    /// Parses a value with `parse`; a failure becomes a warning and `None`.
    fn parsed<T: Display>(
        &mut self,
        rank: usize,
        field: &'static str,
        parse: impl Fn(&str) -> Result<Option<T>, String>,
    ) -> Option<T> {
        let text = self.text(rank)?;
        match parse(text) {
            Ok(Some(value)) => {
                self.note(rank, field, &value);
                Some(value)
            }
            Ok(None) => None,
            Err(reason) => {
                self.warn(rank, format!("{field}: {reason}"));
                None
            }
        }
    }

    fn decimal(&mut self, rank: usize, field: &'static str) -> Option<f64> {
        self.parsed(rank, field, parse_decimal)
    }

    fn count(&mut self, rank: usize, field: &'static str) -> Option<u32> {
        self.parsed(rank, field, parse_count)
    }

    fn flag(&mut self, rank: usize, field: &'static str) -> Option<bool> {
        self.parsed(rank, field, parse_bool)
    }

    fn date(&mut self, rank: usize, field: &'static str) -> Option<chrono::NaiveDate> {
        self.parsed(rank, field, parse_date)
    }

    fn source_id(&mut self) -> Result<String, FieldProblem> {
        if let Some(id) = self.traced_text(rank::TECHNICAL_ID, "source_id") {
            return Ok(id);
        }
        match self.text(rank::REFERENCE) {
            Some(reference) => {
                self.note(rank::REFERENCE, "source_id", reference);
                Ok(reference.to_string())
            }
            None => Err(FieldProblem {
                rank: rank::TECHNICAL_ID,
                value: String::new(),
                reason: "no id: Identifiant technique (rank 175) and Référence agence du bien (rank 2) are both empty"
                    .to_string(),
            }),
        }
    }

    fn transaction(&mut self) -> Result<Coded<TransactionKind>, FieldProblem> {
        let raw = self.text(rank::TRANSACTION_TYPE).unwrap_or_default();
        match transaction_kind(raw) {
            Some(kind) => {
                self.note(rank::TRANSACTION_TYPE, "transaction", kind.as_str());
                Ok(Coded::new(kind, raw))
            }
            None if raw.is_empty() => Err(FieldProblem {
                rank: rank::TRANSACTION_TYPE,
                value: String::new(),
                reason: "transaction type is empty".to_string(),
            }),
            None => Err(FieldProblem {
                rank: rank::TRANSACTION_TYPE,
                value: raw.to_string(),
                reason: format!(
                    "unknown transaction type `{raw}`; expected one of: vente, vente de prestige, location, \
                     location vacances, viager, cession de bail, vente-fonds-de-commerce, \
                     produit d'investissement, produit catalogue"
                ),
            }),
        }
    }

    fn property(&mut self) -> Coded<PropertyKind> {
        let raw = self.text(rank::PROPERTY_TYPE).unwrap_or_default();
        let mut kind = property_kind(raw);
        if kind.is_none() && !raw.is_empty() && fold_code(raw) != "inconnu" {
            self.warn(
                rank::PROPERTY_TYPE,
                format!("property: unknown property type `{raw}`"),
            );
        }
        if matches!(kind, None | Some(PropertyKind::Other))
            && let Some(from_subtype) = self.text(rank::PROPERTY_SUBTYPE).and_then(subtype_kind)
        {
            self.note(rank::PROPERTY_SUBTYPE, "property", from_subtype.as_str());
            kind = Some(from_subtype);
        }
        let kind = kind.unwrap_or(PropertyKind::Other);
        self.note(rank::PROPERTY_TYPE, "property", kind.as_str());
        Coded::new(kind, raw)
    }

    fn price(&mut self, transaction: TransactionKind, currency: String) -> Option<Price> {
        let amount = self.decimal(rank::PRICE, "price.amount")?;
        if amount < 0.0 {
            self.warn(
                rank::PRICE,
                "price.amount: a price cannot be negative".to_string(),
            );
            return None;
        }
        let period = match transaction {
            TransactionKind::Rent => Some(RentPeriod::Month),
            _ => None,
        };
        Some(Price {
            amount,
            currency,
            period,
        })
    }

    /// Rank 15 is a percentage of the price for sales and an amount for rents.
    fn fees(&mut self, transaction: TransactionKind) -> Option<Fees> {
        let value = self.decimal(rank::FEES, "fees.value")?;
        let unit = if transaction.is_rental() {
            FeeUnit::Amount
        } else {
            FeeUnit::Percent
        };
        Some(Fees { value, unit })
    }

    fn floor(&mut self) -> Option<i32> {
        self.parsed(rank::FLOOR, "floor", |text| {
            parse_integer(text)?
                .map(|value| i32::try_from(value).map_err(|_| format!("`{text}` is not a floor number")))
                .transpose()
        })
    }

    /// Rank 27; 0 means unknown in real exports, and a year outside
    /// 1000–2100 is a typing error.
    fn year_built(&mut self) -> Option<u16> {
        let plausible = |text: &str| -> Result<Option<u16>, String> {
            match parse_integer(text)? {
                None | Some(0) => Ok(None),
                Some(year @ 1000..=2100) => Ok(Some(year as u16)),
                Some(year) => Err(format!("`{year}` is not a plausible year")),
            }
        };
        self.parsed(rank::YEAR_BUILT, "year_built", plausible)
    }

    /// Returns the real postal code and city (ranks 108/109) when present,
    /// else the displayed ones (ranks 5/6), which agencies may blur.
    fn place(&mut self) -> (Option<String>, Option<String>) {
        let postal_code = self
            .traced_text(rank::REAL_POSTAL_CODE, "postal_code")
            .or_else(|| self.traced_text(rank::POSTAL_CODE, "postal_code"));
        let shown_city = self.text(rank::CITY);
        let city = match (self.text(rank::REAL_CITY), shown_city) {
            // Hektor writes the real city folded (`frejus` for `Fréjus`):
            // when both name the same place, keep the better-written one.
            (Some(real), Some(shown)) if same_place(real, shown) => self.traced_text(rank::CITY, "city"),
            (Some(_), _) => self.traced_text(rank::REAL_CITY, "city"),
            (None, _) => self.traced_text(rank::CITY, "city"),
        };
        (postal_code, city)
    }

    /// Latitude or longitude; `0` is the placeholder CRMs write when the
    /// position is unknown.
    fn coordinate(&mut self, rank: usize, field: &'static str, limit: f64) -> Option<f64> {
        let value = self.decimal(rank, field)?;
        if value == 0.0 {
            return None;
        }
        if value.abs() > limit {
            self.warn(rank, format!("{field}: `{value}` is outside ±{limit}"));
            return None;
        }
        Some(value)
    }

    fn translations(&mut self) -> Vec<Translation> {
        let mut translations = Vec::new();
        for block in rank::TRANSLATION_BLOCKS {
            let Some(language) = self.text(block) else {
                continue;
            };
            let language = language.to_uppercase();
            let title = self.plain(block + 2, "translations.title");
            let description = self.plain(block + 3, "translations.description");
            if title.is_some() || description.is_some() {
                self.note(block, "translations.language", &language);
                translations.push(Translation {
                    language,
                    title,
                    description,
                });
            }
        }
        translations
    }

    /// Reads a DPE or GES value and class. When the value column contains a
    /// class letter and the class column a number, the two were swapped by
    /// the exporter: they are swapped back, with a warning.
    fn energy(&mut self, value_rank: usize, class_rank: usize, field: &'static str) -> Option<EnergyRating> {
        let mut value_text = self.text(value_rank).unwrap_or_default();
        let mut class_text = self.text(class_rank).unwrap_or_default();
        let swapped =
            EnergyClass::from_code(value_text).is_some() && matches!(parse_decimal(class_text), Ok(Some(_)));
        if swapped {
            self.warnings.push(FieldProblem {
                rank: value_rank,
                value: value_text.to_string(),
                reason: format!(
                    "{field}: class `{value_text}` found in the value column (rank {value_rank}) and value \
                     `{class_text}` in the class column (rank {class_rank}); swapped back"
                ),
            });
            std::mem::swap(&mut value_text, &mut class_text);
        }

        let value = match parse_decimal(value_text) {
            Ok(Some(value)) if value > 0.0 => Some(value),
            Ok(_) => None,
            Err(reason) => {
                self.warn(value_rank, format!("{field}.value: {reason}"));
                None
            }
        };
        let class = match EnergyClass::from_code(class_text) {
            Some(class) => Some(Coded::new(class, class_text)),
            // Some exporters write 0 for "no class".
            None if class_text.is_empty() || class_text == "0" => None,
            None => {
                self.warn(
                    class_rank,
                    format!("{field}.class: `{class_text}` is not A–G, VI or NS"),
                );
                None
            }
        };
        if let Some(value) = value {
            self.note(
                value_rank,
                if field == "dpe" { "dpe.value" } else { "ges.value" },
                value,
            );
        }
        if let Some(class) = &class {
            self.note(
                class_rank,
                if field == "dpe" { "dpe.class" } else { "ges.class" },
                class.kind.as_str(),
            );
        }
        (value.is_some() || class.is_some()).then_some(EnergyRating { class, value })
    }

    fn features(&mut self) -> Features {
        Features {
            furnished: self.flag(rank::FURNISHED, "features.furnished"),
            lift: self.flag(rank::LIFT, "features.lift"),
            cellar: self.flag(rank::CELLAR, "features.cellar"),
            terrace: self.flag(rank::TERRACE, "features.terrace"),
            pool: self.flag(rank::POOL, "features.pool"),
            air_conditioning: self.flag(rank::AIR_CONDITIONING, "features.air_conditioning"),
            fireplace: self.flag(rank::FIREPLACE, "features.fireplace"),
            disabled_access: self.flag(rank::DISABLED_ACCESS, "features.disabled_access"),
            exclusive_mandate: self.flag(rank::EXCLUSIVE_MANDATE, "features.exclusive_mandate"),
            works_needed: self.flag(rank::WORKS_NEEDED, "features.works_needed"),
        }
    }

    fn photos(&mut self, has_member: &dyn Fn(&str) -> bool) -> Vec<Photo> {
        let mut photos = Vec::new();
        for (photo_rank, caption_rank) in rank::PHOTOS {
            let Some(location) = self.text(photo_rank) else {
                continue;
            };
            let lower = location.to_ascii_lowercase();
            let source = if lower.starts_with("http://") || lower.starts_with("https://") {
                PhotoSource::Url(location.to_string())
            } else {
                if !has_member(location) {
                    self.warn(
                        photo_rank,
                        format!("photos: `{location}` is neither an http(s) URL nor a file of the delivery"),
                    );
                    continue;
                }
                PhotoSource::ArchiveMember(location.to_string())
            };
            self.note(photo_rank, "photos", location);
            let caption = self.text(caption_rank).map(str::to_string);
            if let Some(caption) = &caption {
                self.note(caption_rank, "photos.caption", caption);
            }
            photos.push(Photo { source, caption });
        }
        photos
    }

    /// Looks up the negotiator code (rank 123), then the contact e-mail
    /// (rank 107), in the agent mapping; else the default agent.
    fn agent(&mut self, settings: &ConvertSettings) -> Option<String> {
        for rank in [rank::NEGOTIATOR_CODE, rank::CONTACT_EMAIL] {
            if let Some(agent) = self.text(rank).and_then(|key| settings.agents.get(key)) {
                let agent = agent.to_string();
                self.note(rank, "agent", &agent);
                return Some(agent);
            }
        }
        settings.default_agent.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_types_of_the_specification() {
        let cases = [
            ("vente", TransactionKind::Sale),
            ("Vente", TransactionKind::Sale),
            ("Vente de prestige", TransactionKind::Sale),
            ("location", TransactionKind::Rent),
            ("Location vacances", TransactionKind::HolidayRent),
            ("viager", TransactionKind::LifeAnnuitySale),
            ("cession de bail", TransactionKind::LeaseTransfer),
            ("vente-fonds-de-commerce", TransactionKind::BusinessTransfer),
            ("produit d'investissement", TransactionKind::InvestmentSale),
            ("Produit d’investissement", TransactionKind::InvestmentSale),
            ("produit catalogue", TransactionKind::NewBuildCatalogue),
            ("VENTE DE PRESTIGE", TransactionKind::Sale),
        ];
        for (raw, expected) in cases {
            assert_eq!(transaction_kind(raw), Some(expected), "{raw}");
        }
        assert_eq!(transaction_kind("échange"), None);
    }

    #[test]
    fn property_types_fold_accents() {
        assert_eq!(property_kind("maison/villa"), Some(PropertyKind::House));
        assert_eq!(property_kind("Château"), Some(PropertyKind::Mansion));
        assert_eq!(property_kind("bâtiment"), Some(PropertyKind::Building));
        assert_eq!(property_kind("parking/box"), Some(PropertyKind::Parking));
        assert_eq!(property_kind("loft/atelier/surface"), Some(PropertyKind::Loft));
        assert_eq!(property_kind("inconnu"), None);
    }

    #[test]
    fn folded_real_city_keeps_shown_spelling() {
        assert!(same_place("st raphael", "Saint-Raphaël"));
        assert!(same_place("frejus", "Fréjus"));
        assert!(!same_place("Gordes", "Roussillon"));
    }

    #[test]
    fn subtype_refines_unknown_kind() {
        assert_eq!(subtype_kind("Maison de village"), Some(PropertyKind::House));
        assert_eq!(subtype_kind("studette"), Some(PropertyKind::Apartment));
        assert_eq!(subtype_kind("Terrain de loisirs"), Some(PropertyKind::Land));
        assert_eq!(subtype_kind("île"), None);
    }

    fn settings() -> ConvertSettings {
        ConvertSettings {
            crm: "poliris".to_string(),
            agency_code: Some("AG".to_string()),
            organization: None,
            agents: AgentMapping::default(),
            default_agent: Some("agent-default".to_string()),
            currency: "EUR".to_string(),
        }
    }

    fn record(values: &[(usize, &'static str)]) -> Vec<Cow<'static, str>> {
        let mut fields = vec![Cow::Borrowed(""); 334];
        for (rank, value) in values {
            fields[rank - 1] = Cow::Borrowed(*value);
        }
        fields
    }

    #[test]
    fn swapped_energy_columns_are_restored() {
        let fields = record(&[(2, "R1"), (3, "vente"), (176, "D"), (177, "185")]);
        let converted = convert_record(&fields, &settings(), &|_| false, None).unwrap();
        let dpe = converted.listing.dpe.unwrap();
        assert_eq!(dpe.value, Some(185.0));
        assert_eq!(dpe.class.unwrap().kind, EnergyClass::D);
        assert_eq!(converted.warnings.len(), 1);
        assert_eq!(converted.warnings[0].rank, 176);
    }

    #[test]
    fn source_id_falls_back_to_reference() {
        let fields = record(&[(2, "REF-9"), (3, "vente")]);
        let converted = convert_record(&fields, &settings(), &|_| false, None).unwrap();
        assert_eq!(converted.listing.source_id, "REF-9");
        let fields = record(&[(3, "vente")]);
        let problem = convert_record(&fields, &settings(), &|_| false, None).unwrap_err();
        assert_eq!(problem.rank, 175);
    }

    #[test]
    fn agent_mapping_prefers_negotiator_code() {
        let mut settings = settings();
        settings.agents.insert("NEGO-7", "alice");
        settings.agents.insert("bob@agence.example", "bob");
        let fields = record(&[
            (2, "R"),
            (3, "vente"),
            (107, "BOB@agence.example"),
            (123, "nego-7"),
        ]);
        let converted = convert_record(&fields, &settings, &|_| false, None).unwrap();
        assert_eq!(converted.listing.agent.as_deref(), Some("alice"));
        let fields = record(&[(2, "R"), (3, "vente"), (107, "BOB@agence.example")]);
        let converted = convert_record(&fields, &settings, &|_| false, None).unwrap();
        assert_eq!(converted.listing.agent.as_deref(), Some("bob"));
        let fields = record(&[(2, "R"), (3, "vente")]);
        let converted = convert_record(&fields, &settings, &|_| false, None).unwrap();
        assert_eq!(converted.listing.agent.as_deref(), Some("agent-default"));
    }

    #[test]
    fn missing_photo_file_is_a_warning() {
        let fields = record(&[
            (2, "R"),
            (3, "vente"),
            (85, "a.jpg"),
            (86, "b.jpg"),
            (94, "Salon"),
        ]);
        let converted = convert_record(&fields, &settings(), &|name| name == "a.jpg", None).unwrap();
        assert_eq!(converted.listing.photos.len(), 1);
        assert_eq!(converted.listing.photos[0].caption.as_deref(), Some("Salon"));
        assert_eq!(converted.warnings[0].rank, 86);
    }

    #[test]
    fn trace_names_the_fields_filled() {
        let fields = record(&[(2, "R"), (3, "vente"), (11, "249 500,00")]);
        let mut trace = Vec::new();
        convert_record(&fields, &settings(), &|_| false, Some(&mut trace)).unwrap();
        let price = trace.iter().find(|entry| entry.rank == 11).unwrap();
        assert_eq!(price.field, "price.amount");
        assert_eq!(price.value, "249500");
    }
}
