//! One Kyero v3 `<property>` to a listing.
//!
//! The fields mapped are `id` (the key), `ref`, `price` (digits, or `x` for
//! price on request), `currency` and `price_freq` (`sale`, `month`, `week`).
//! Then come `type`, `town`, `country`, `location`, `beds`, `baths`, `pool`
//! (0/1),
//! `surface_area/built|plot` and `energy_rating/consumption|emissions`
//! (`A`–`G`, `X` unknown). Last come `desc/<lang>`, `features/feature` and
//! `images/image@id/url` (shown by id). `date` and `province` have no listing
//! field and stay in the raw record. `notes` are private to the agency and
//! never stored.

use crate::crm::adapter::{Converted, FieldProblem, ReadSettings};
use crate::crm::poliris::values::plain_text;
use crate::crm::xml::Element;
use crate::listing::{
    Coded, EnergyClass, EnergyRating, Features, Listing, Photo, PhotoSource, Price, PropertyKind, RentPeriod,
    TransactionKind, Translation,
};

/// Converts one `<property>`.
///
/// # Errors
/// The property has no `id`, or a `price_freq` that is neither sale nor
/// rent, so it cannot become a listing.
pub fn convert_property(property: &Element, settings: &ReadSettings) -> Result<Converted, FieldProblem> {
    let mut warnings = Vec::new();
    let source_id = property
        .text_at(&["id"])
        .ok_or_else(|| FieldProblem::new("id", "", "the property has no id"))?
        .to_string();
    let frequency = property.text_at(&["price_freq"]).unwrap_or("sale");
    let (transaction, period) = match frequency.to_ascii_lowercase().as_str() {
        "sale" => (TransactionKind::Sale, None),
        "month" => (TransactionKind::Rent, Some(RentPeriod::Month)),
        "week" => (TransactionKind::HolidayRent, Some(RentPeriod::Week)),
        _ => {
            return Err(FieldProblem::new(
                "price_freq",
                frequency,
                "unknown price frequency; expected sale, month or week",
            ));
        }
    };
    let currency = property
        .text_at(&["currency"])
        .unwrap_or("EUR")
        .to_ascii_uppercase();
    let price = match property.text_at(&["price"]) {
        None => None,
        Some(text) if text.eq_ignore_ascii_case("x") => None,
        Some(text) => match text.parse::<f64>() {
            Ok(amount) if amount > 0.0 => Some(Price {
                amount,
                currency,
                period,
            }),
            _ => {
                warnings.push(FieldProblem::new("price", text, "not a price; left unknown"));
                None
            }
        },
    };
    let kind_text = property.text_at(&["type"]).unwrap_or_default();
    let mut count = |field: &'static str, path: &[&str]| -> Option<u32> {
        let text = property.text_at(path)?;
        match text.parse::<u32>() {
            Ok(value) => Some(value),
            Err(_) => {
                warnings.push(FieldProblem::new(field, text, "not a whole number; left unknown"));
                None
            }
        }
    };
    let bedrooms = count("beds", &["beds"]);
    let bathrooms = count("baths", &["baths"]);
    let mut area = |field: &'static str, path: &[&str]| -> Option<f64> {
        let text = property.text_at(path)?;
        match text.replace(',', ".").parse::<f64>() {
            Ok(value) if value > 0.0 => Some(value),
            Ok(_) => None,
            Err(_) => {
                warnings.push(FieldProblem::new(field, text, "not a number of m²; left unknown"));
                None
            }
        }
    };
    let living_area = area("surface_area.built", &["surface_area", "built"]);
    let land_area = area("surface_area.plot", &["surface_area", "plot"]);
    let coordinate = |name: &str| {
        property
            .text_at(&["location", name])
            .and_then(|text| text.parse::<f64>().ok())
            .filter(|value| *value != 0.0)
    };
    let (description, translations) = descriptions(property, settings.language.as_deref().unwrap_or("en"));
    Ok(Converted {
        listing: Listing {
            crm: settings.crm.clone(),
            agency_code: settings.agency_code.clone().unwrap_or_default(),
            crm_agency_id: None,
            source_id,
            reference: property.text_at(&["ref"]).map(str::to_string),
            organization: settings.organization.clone(),
            agent: settings.default_agent.clone(),
            transaction: Coded::new(transaction, frequency),
            property: Coded::new(property_kind(kind_text), kind_text),
            property_subtype: None,
            price,
            charges: None,
            fees: None,
            deposit: None,
            living_area,
            land_area,
            rooms: None,
            bedrooms,
            bathrooms,
            shower_rooms: None,
            floor: None,
            floors: None,
            year_built: None,
            available_from: None,
            address: property.text_at(&["location_detail"]).map(str::to_string),
            postal_code: None,
            city: property.text_at(&["town"]).map(str::to_string),
            country: property.text_at(&["country"]).map(str::to_string),
            latitude: coordinate("latitude"),
            longitude: coordinate("longitude"),
            title: None,
            description,
            translations,
            dpe: energy_rating(property, "consumption"),
            ges: energy_rating(property, "emissions"),
            dpe_date: None,
            features: features(property),
            virtual_tour: None,
            photos: photos(property),
        },
        warnings,
    })
}

/// Maps Kyero's free `type` text; the raw text is kept beside the kind.
fn property_kind(text: &str) -> PropertyKind {
    let lower = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| lower.contains(word));
    if has(&["apartment", "penthouse", "flat", "studio", "duplex"]) {
        PropertyKind::Apartment
    } else if has(&["villa", "house", "bungalow", "chalet", "finca", "cortijo", "quad"]) {
        PropertyKind::House
    } else if has(&["plot", "land"]) {
        PropertyKind::Land
    } else if has(&["garage", "parking"]) {
        PropertyKind::Parking
    } else if has(&[
        "commercial",
        "restaurant",
        "shop",
        "bar",
        "business premises",
        "local",
    ]) {
        PropertyKind::Commercial
    } else if has(&["office"]) {
        PropertyKind::Office
    } else if has(&["building"]) {
        PropertyKind::Building
    } else {
        PropertyKind::Other
    }
}

/// Returns the description in `language`, else the first one; the others
/// become translations, language codes upper-cased.
fn descriptions(property: &Element, language: &str) -> (Option<String>, Vec<Translation>) {
    let Some(desc) = property.child("desc") else {
        return (None, Vec::new());
    };
    let texts: Vec<(String, String)> = desc
        .children
        .iter()
        .filter_map(|child| {
            let text = tidy(&child.text);
            (!text.is_empty()).then(|| (child.name.to_ascii_uppercase(), text))
        })
        .collect();
    let main = texts
        .iter()
        .position(|(code, _)| code.eq_ignore_ascii_case(language))
        .unwrap_or(0);
    let description = texts.get(main).map(|(_, text)| text.clone());
    let translations = texts
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != main)
        .map(|(_, (code, text))| Translation {
            language: code.clone(),
            title: None,
            description: Some(text.clone()),
        })
        .collect();
    (description, translations)
}

/// Plain text with the feed's indentation removed from each line.
fn tidy(text: &str) -> String {
    let plain = plain_text(text);
    let lines: Vec<&str> = plain.lines().map(str::trim).collect();
    lines.join("\n").trim().to_string()
}

fn energy_rating(property: &Element, name: &str) -> Option<EnergyRating> {
    let code = property.text_at(&["energy_rating", name])?;
    let class = EnergyClass::from_code(code).map(|class| Coded::new(class, code))?;
    Some(EnergyRating {
        class: Some(class),
        value: None,
    })
}

fn features(property: &Element) -> Features {
    let flag = |text: Option<&str>| match text {
        Some("1") => Some(true),
        Some("0") => Some(false),
        _ => None,
    };
    let listed: Vec<String> = property
        .child("features")
        .map(|features| {
            features
                .children_named("feature")
                .map(|feature| feature.text.to_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let mentions = |words: &[&str]| {
        listed
            .iter()
            .any(|feature| words.iter().any(|word| feature.contains(word)))
            .then_some(true)
    };
    Features {
        furnished: mentions(&["furnished"]).filter(|_| !listed.iter().any(|f| f.contains("unfurnished"))),
        lift: mentions(&["lift", "elevator"]),
        terrace: mentions(&["terrace"]),
        pool: flag(property.text_at(&["pool"])).or(mentions(&["pool"])),
        air_conditioning: mentions(&["air conditioning", "air-conditioning"]),
        fireplace: mentions(&["fireplace"]),
        ..Features::default()
    }
}

/// Photos by their `id` attribute, which gives Kyero's display order.
fn photos(property: &Element) -> Vec<Photo> {
    let Some(images) = property.child("images") else {
        return Vec::new();
    };
    // Images without a numeric id keep their place after the numbered ones.
    let mut ranked: Vec<((u32, usize), String)> = images
        .children_named("image")
        .enumerate()
        .filter_map(|(position, image)| {
            let url = image.text_at(&["url"])?.to_string();
            let id = image
                .attribute("id")
                .and_then(|id| id.parse().ok())
                .unwrap_or(u32::MAX);
            Some(((id, position), url))
        })
        .collect();
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked
        .into_iter()
        .map(|(_, url)| Photo {
            source: PhotoSource::Url(url),
            caption: None,
        })
        .collect()
}
