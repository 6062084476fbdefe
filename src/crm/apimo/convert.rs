//! Conversion of one Apimo property (JSON) into a [`Listing`].
//!
//! Apimo sends catalog ids, not words (category 1 is a sale, type 2 a
//! house), and numbers sometimes as strings; both are accepted. A property
//! is rejected only without an id or with an unknown category; any other
//! unreadable field is left unknown with a warning.

use serde_json::Value;

use crate::crm::poliris::AgentMapping;
use crate::listing::{
    Coded, EnergyClass, EnergyRating, Features, FeeUnit, Fees, Listing, Photo, PhotoSource, Price,
    PropertyKind, RentPeriod, TransactionKind, Translation,
};

/// Settings of a conversion besides the property itself.
pub struct ApimoSettings<'a> {
    pub crm: &'a str,
    /// The integration's agency code; `None` takes the property's `agency`.
    pub agency_code: Option<&'a str>,
    pub organization: Option<&'a str>,
    pub agents: &'a AgentMapping,
    pub default_agent: Option<&'a str>,
    /// Language of the title and description, e.g. `fr`.
    pub language: &'a str,
}

/// A field that could not be used, named by its JSON path.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub value: String,
    pub reason: String,
}

/// A converted property: the listing, whether Apimo marks it off the
/// market, and the fields that could not be read.
pub struct Converted {
    pub listing: Listing,
    pub withdrawn: bool,
    pub warnings: Vec<FieldProblem>,
}

/// `property_category` catalog: 1 sale, 2 rent, 3 holiday rent, 4 new-build
/// programme, 5 life annuity, 6 auction.
fn transaction_kind(category: i64) -> Option<TransactionKind> {
    let kind = match category {
        1 => TransactionKind::Sale,
        2 => TransactionKind::Rent,
        3 => TransactionKind::HolidayRent,
        4 => TransactionKind::NewBuildCatalogue,
        5 => TransactionKind::LifeAnnuitySale,
        6 => TransactionKind::Auction,
        _ => return None,
    };
    Some(kind)
}

/// `property_type` catalog: 1 apartment, 2 house, 3 land, 4 shop, 5 garage
/// or parking, 6 building, 7 office, 8 boat, 9 business premises or
/// warehouse, 10 cellar or box.
fn property_kind(kind: i64) -> Option<PropertyKind> {
    let kind = match kind {
        1 => PropertyKind::Apartment,
        2 => PropertyKind::House,
        3 => PropertyKind::Land,
        4 | 9 => PropertyKind::Commercial,
        5 | 10 => PropertyKind::Parking,
        6 => PropertyKind::Building,
        7 => PropertyKind::Office,
        8 => PropertyKind::Other,
        _ => return None,
    };
    Some(kind)
}

/// Square metres per unit of the `unit_area` catalog: 1 m², 2 ft², 7 ha,
/// 8 ares.
fn square_metres_per(unit: i64) -> Option<f64> {
    match unit {
        1 => Some(1.0),
        2 => Some(0.092_903_04),
        7 => Some(10_000.0),
        8 => Some(100.0),
        _ => None,
    }
}

/// Returns whether Apimo's step or status takes a property off the market: step 4
/// (deleted), statuses 30–32 (sold or rented), 33–34 (withdrawn) and 35
/// (cancelled).
fn is_off_market(step: Option<i64>, status: Option<i64>) -> bool {
    step == Some(4) || matches!(status, Some(30..=35))
}

/// `property_areas` catalog ids counted as bathrooms (8) and shower rooms
/// (13) when the property has no bathroom count.
const BATHROOM_AREA: i64 = 8;
const SHOWER_ROOM_AREA: i64 = 13;

/// Converts one property.
///
/// # Errors
/// The problem that makes the property unusable.
pub fn convert_property(property: &Value, settings: &ApimoSettings<'_>) -> Result<Converted, FieldProblem> {
    let mut fields = Fields { warnings: Vec::new() };
    let source_id = text(&property["id"]).ok_or_else(|| FieldProblem {
        field: "id",
        value: String::new(),
        reason: "the property has no id".to_string(),
    })?;
    let category = number(&property["category"]).map(|value| value as i64);
    let transaction = category.and_then(transaction_kind).ok_or_else(|| FieldProblem {
        field: "category",
        value: text(&property["category"]).unwrap_or_default(),
        reason: "unknown category; expected 1 (sale) to 6 (auction)".to_string(),
    })?;
    let raw_type = text(&property["type"]).unwrap_or_default();
    let property_kind = match number(&property["type"])
        .map(|value| value as i64)
        .and_then(property_kind)
    {
        Some(kind) => kind,
        None => {
            fields.warn("type", &raw_type, "unknown property type");
            PropertyKind::Other
        }
    };

    let area_unit = number(&property["area"]["unit"]).map_or(1, |unit| unit as i64);
    let living_area = fields.area(&property["area"]["value"], area_unit, "area.value");
    let land_area = fields.area(&property["plot"]["net_floor"], 1, "plot.net_floor");
    let (title, description, translations) = texts(&property["comments"], settings.language);

    let listing = Listing {
        crm: settings.crm.to_string(),
        agency_code: settings
            .agency_code
            .map(str::to_string)
            .or_else(|| text(&property["agency"]))
            .unwrap_or_default(),
        crm_agency_id: text(&property["agency"]),
        reference: text(&property["reference"]),
        organization: settings.organization.map(str::to_string),
        agent: agent(&property["user"], settings),
        transaction: Coded::new(transaction, text(&property["category"]).unwrap_or_default()),
        property: Coded::new(property_kind, raw_type),
        property_subtype: text(&property["subtype"]),
        price: fields.price(&property["price"], transaction),
        charges: None,
        fees: positive(&property["price"]["fees"]).map(|value| Fees {
            value,
            unit: FeeUnit::Amount,
        }),
        deposit: positive(&property["price"]["deposit"]),
        living_area,
        land_area,
        rooms: count(&property["rooms"]),
        bedrooms: count(&property["bedrooms"]),
        bathrooms: count(&property["bathrooms"]).or_else(|| area_count(&property["areas"], BATHROOM_AREA)),
        shower_rooms: area_count(&property["areas"], SHOWER_ROOM_AREA),
        floor: number(&property["floor"]["value"]).map(|value| value as i32),
        floors: count(&property["floor"]["floors"]),
        year_built: number(&property["construction"]["construction_year"])
            .map(|year| year as i64)
            .filter(|year| (1000..=2100).contains(year))
            .map(|year| year as u16),
        available_from: None,
        address: text(&property["address"]),
        postal_code: text(&property["city"]["zipcode"]),
        city: text(&property["city"]["name"]),
        country: text(&property["country"]).map(|country| country.to_uppercase()),
        latitude: number(&property["latitude"]).filter(|value| *value != 0.0 && value.abs() <= 90.0),
        longitude: number(&property["longitude"]).filter(|value| *value != 0.0 && value.abs() <= 180.0),
        title,
        description,
        translations,
        dpe: energy(&property["regulations"], 1),
        ges: energy(&property["regulations"], 2),
        dpe_date: regulation_date(&property["regulations"], 1),
        features: Features::default(),
        virtual_tour: None,
        photos: photos(&property["pictures"]),
        source_id,
    };
    let withdrawn = is_off_market(
        number(&property["step"]).map(|value| value as i64),
        number(&property["status"]).map(|value| value as i64),
    );
    Ok(Converted {
        listing,
        withdrawn,
        warnings: fields.warnings,
    })
}

struct Fields {
    warnings: Vec<FieldProblem>,
}

impl Fields {
    fn warn(&mut self, field: &'static str, value: &str, reason: &str) {
        self.warnings.push(FieldProblem {
            field,
            value: value.to_string(),
            reason: reason.to_string(),
        });
    }

    /// Reads an area in `unit` and returns it in m².
    fn area(&mut self, value: &Value, unit: i64, field: &'static str) -> Option<f64> {
        let value = positive(value)?;
        match square_metres_per(unit) {
            // Rounded to the cm², so that a converted area reads as one.
            Some(factor) => Some((value * factor * 10_000.0).round() / 10_000.0),
            None => {
                self.warn(
                    field,
                    &unit.to_string(),
                    "unknown area unit; expected 1 (m²), 2 (ft²), 7 (ha) or 8 (ares)",
                );
                None
            }
        }
    }

    fn price(&mut self, price: &Value, transaction: TransactionKind) -> Option<Price> {
        let amount = positive(&price["value"])?;
        let currency = text(&price["currency"]).map_or_else(|| "EUR".to_string(), |code| code.to_uppercase());
        // `property_period` catalog: 4 is a month and 8 a year; a rent
        // without a known period is taken as monthly, the French custom.
        let period = match number(&price["period"]).map(|value| value as i64) {
            Some(4) => Some(RentPeriod::Month),
            Some(8) => Some(RentPeriod::Year),
            Some(other) if transaction.is_rental() => {
                self.warn(
                    "price.period",
                    &other.to_string(),
                    "unknown rent period; taken as monthly",
                );
                Some(RentPeriod::Month)
            }
            _ if transaction.is_rental() => Some(RentPeriod::Month),
            _ => None,
        };
        Some(Price {
            amount,
            currency,
            period,
        })
    }
}

/// Returns a JSON string or number as text, or `None` when null or empty.
pub fn text_of(value: &Value) -> Option<String> {
    text(value)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.trim().to_string()).filter(|text| !text.is_empty()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Returns a JSON number, or a string holding one.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().replace(',', ".").parse().ok(),
        _ => None,
    }
}

fn positive(value: &Value) -> Option<f64> {
    number(value).filter(|value| *value > 0.0)
}

fn count(value: &Value) -> Option<u32> {
    number(value)
        .filter(|value| *value >= 0.0)
        .map(|value| value as u32)
}

/// Counts the rooms of one `property_areas` type.
fn area_count(areas: &Value, area_type: i64) -> Option<u32> {
    let areas = areas.as_array()?;
    let total: u32 = areas
        .iter()
        .filter(|area| number(&area["type"]).map(|value| value as i64) == Some(area_type))
        .map(|area| count(&area["number"]).unwrap_or(1).max(1))
        .sum();
    (total > 0).then_some(total)
}

/// Picks the title and description in `language`, else the first comment,
/// and keeps the other languages as translations.
fn texts(comments: &Value, language: &str) -> (Option<String>, Option<String>, Vec<Translation>) {
    let Some(comments) = comments.as_array().filter(|comments| !comments.is_empty()) else {
        return (None, None, Vec::new());
    };
    let language_of = |comment: &Value| text(&comment["language"]).unwrap_or_default().to_lowercase();
    let main = comments
        .iter()
        .position(|comment| language_of(comment) == language.to_lowercase())
        .unwrap_or(0);
    let description_of =
        |comment: &Value| text(&comment["comment_full"]).or_else(|| text(&comment["comment"]));
    let translations = comments
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != main)
        .map(|(_, comment)| Translation {
            language: language_of(comment).to_uppercase(),
            title: text(&comment["title"]),
            description: description_of(comment),
        })
        .collect();
    (
        text(&comments[main]["title"]),
        description_of(&comments[main]),
        translations,
    )
}

/// Reads regulation `kind` (1 DPE, 2 GES). Its `value` is a comma-separated
/// list: the numbers give the value, a letter A–G the class; `graph` may
/// also carry the class letter.
fn energy(regulations: &Value, kind: i64) -> Option<EnergyRating> {
    let regulation = regulations
        .as_array()?
        .iter()
        .find(|regulation| number(&regulation["type"]).map(|value| value as i64) == Some(kind))?;
    let raw = text(&regulation["value"]).unwrap_or_default();
    let tokens: Vec<&str> = raw.split(',').map(str::trim).collect();
    let value = tokens
        .iter()
        .find_map(|token| token.parse::<f64>().ok())
        .filter(|value| *value > 0.0);
    let class = tokens
        .iter()
        .map(|token| token.to_string())
        .chain(text(&regulation["graph"]))
        .find_map(|token| EnergyClass::from_code(&token).map(|class| Coded::new(class, token)));
    (value.is_some() || class.is_some()).then_some(EnergyRating { class, value })
}

/// Returns the date of regulation `kind`, sent as `AAAA-MM-JJ` with an
/// optional time.
fn regulation_date(regulations: &Value, kind: i64) -> Option<chrono::NaiveDate> {
    let regulation = regulations
        .as_array()?
        .iter()
        .find(|regulation| number(&regulation["type"]).map(|value| value as i64) == Some(kind))?;
    let date = text(&regulation["date"])?;
    chrono::NaiveDate::parse_from_str(date.get(..10)?, "%Y-%m-%d").ok()
}

/// Pictures in `rank` order, each with its first caption.
fn photos(pictures: &Value) -> Vec<Photo> {
    let Some(pictures) = pictures.as_array() else {
        return Vec::new();
    };
    let mut ranked: Vec<(f64, Photo)> = pictures
        .iter()
        .filter_map(|picture| {
            let url = text(&picture["url"])?;
            let caption = picture["comments"]
                .as_array()
                .and_then(|comments| comments.iter().find_map(|comment| text(&comment["comment"])));
            Some((
                number(&picture["rank"]).unwrap_or(f64::MAX),
                Photo {
                    source: PhotoSource::Url(url),
                    caption,
                },
            ))
        })
        .collect();
    ranked.sort_by(|first, second| first.0.total_cmp(&second.0));
    ranked.into_iter().map(|(_, photo)| photo).collect()
}

/// Looks the property's user up in the agent mapping by e-mail, then by id;
/// else the integration's default agent.
fn agent(user: &Value, settings: &ApimoSettings<'_>) -> Option<String> {
    [text(&user["email"]), text(&user["id"])]
        .into_iter()
        .flatten()
        .find_map(|key| settings.agents.get(&key).map(str::to_string))
        .or_else(|| settings.default_agent.map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(agents: &AgentMapping) -> ApimoSettings<'_> {
        ApimoSettings {
            crm: "apimo",
            agency_code: Some("4242"),
            organization: None,
            agents,
            default_agent: None,
            language: "fr",
        }
    }

    #[test]
    fn square_feet_become_square_metres() {
        let agents = AgentMapping::default();
        let property = json!({"id": 1, "category": 1, "type": 1, "area": {"unit": 2, "value": "1000"}});
        let converted = convert_property(&property, &settings(&agents)).unwrap();
        let area = converted.listing.living_area.unwrap();
        assert_eq!(area, 92.903, "1000 ft² rounded to the cm²");
    }

    #[test]
    fn unknown_category_is_rejected() {
        let agents = AgentMapping::default();
        let problem = convert_property(&json!({"id": 1, "category": 9, "type": 1}), &settings(&agents))
            .err()
            .unwrap();
        assert_eq!(problem.field, "category");
        assert_eq!(problem.value, "9");
    }

    #[test]
    fn sold_status_marks_withdrawn() {
        let agents = AgentMapping::default();
        for (step, status, withdrawn) in [(1, 1, false), (1, 30, true), (4, 1, true), (1, 22, false)] {
            let property = json!({"id": 1, "category": 1, "type": 2, "step": step, "status": status});
            let converted = convert_property(&property, &settings(&agents)).unwrap();
            assert_eq!(converted.withdrawn, withdrawn, "step {step}, status {status}");
        }
    }

    #[test]
    fn regulation_value_and_class() {
        let regulations = json!([{"type": 1, "value": "185,D"}, {"type": 2, "value": "41", "graph": "E"}]);
        let dpe = energy(&regulations, 1).unwrap();
        assert_eq!(dpe.value, Some(185.0));
        assert_eq!(dpe.class.unwrap().kind, EnergyClass::D);
        let ges = energy(&regulations, 2).unwrap();
        assert_eq!(ges.value, Some(41.0));
        assert_eq!(ges.class.unwrap().kind, EnergyClass::E);
        assert!(energy(&regulations, 3).is_none());
    }

    #[test]
    fn bathrooms_counted_from_areas() {
        let agents = AgentMapping::default();
        let property = json!({"id": 1, "category": 1, "type": 2,
            "areas": [{"type": 8, "number": 2}, {"type": 13, "number": 1}, {"type": 1, "number": 3}]});
        let converted = convert_property(&property, &settings(&agents)).unwrap();
        assert_eq!(converted.listing.bathrooms, Some(2));
        assert_eq!(converted.listing.shower_rooms, Some(1));
    }
}
