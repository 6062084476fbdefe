//! One OpenImmo `<immobilie>` to a listing.
//!
//! The key is `verwaltung_techn/openimmo_obid`; real exports leave it empty,
//! and then the provider's id and `objektnr_extern` stand in. The offer is
//! `objektkategorie/vermarktungsart` (`KAUF`, `MIETE_PACHT`), else the kind
//! of price given; the kind is the child of `objektart`. Contact people's
//! details never reach the raw record.

use crate::crm::adapter::{Converted, FieldProblem, ReadSettings};
use crate::crm::poliris::values::plain_text;
use crate::crm::xml::Element;
use crate::listing::{
    Coded, EnergyClass, EnergyRating, Features, Listing, Photo, PhotoSource, Price, PropertyKind, RentPeriod,
    TransactionKind, Translation,
};

/// Elements left out of the raw record: people's names, phones and e-mails.
pub const PRIVATE_ELEMENTS: [&str; 2] = ["kontaktperson", "weitere_adresse"];

/// Action the delivery requests for an object (`verwaltung_techn/aktion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// No action, or `CHANGE`: add or update.
    Upsert,
    /// `DELETE`: withdraw the listing.
    Delete,
    /// `REFERENZ`: keep it as a sold reference, withdrawn from the market.
    Reference,
}

/// Returns the object's action.
pub fn action(object: &Element) -> Action {
    let kind = object
        .child("verwaltung_techn")
        .and_then(|technical| technical.child("aktion"))
        .and_then(|action| action.attribute("aktionart"))
        .unwrap_or_default();
    match kind.to_ascii_uppercase().as_str() {
        "DELETE" => Action::Delete,
        "REFERENZ" => Action::Reference,
        _ => Action::Upsert,
    }
}

/// Returns the object's key: `openimmo_obid`, else the provider's id and
/// `objektnr_extern` (or `objektnr_extern` alone without a provider id).
pub fn source_id(object: &Element, provider: Option<&str>) -> Option<String> {
    if let Some(obid) = object.text_at(&["verwaltung_techn", "openimmo_obid"]) {
        return Some(obid.to_string());
    }
    let external = object.text_at(&["verwaltung_techn", "objektnr_extern"])?;
    Some(match provider.filter(|provider| !provider.is_empty()) {
        Some(provider) => format!("{provider}/{external}"),
        None => external.to_string(),
    })
}

/// Converts one object.
///
/// # Errors
/// The object has no key, or gives neither sale nor rent in any way.
pub fn convert_object(
    object: &Element,
    provider: Option<&str>,
    settings: &ReadSettings,
) -> Result<Converted, FieldProblem> {
    let mut warnings = Vec::new();
    let source_id = source_id(object, provider).ok_or_else(|| {
        FieldProblem::new(
            "verwaltung_techn.openimmo_obid",
            "",
            "the object has neither an openimmo_obid nor an objektnr_extern",
        )
    })?;
    let prices = object.child("preise");
    let price_of = |name: &str| -> Option<f64> {
        prices?
            .text_at(&[name])
            .and_then(|text| text.replace(',', ".").parse::<f64>().ok())
            .filter(|value| *value > 0.0)
    };
    let marketing = object
        .child("objektkategorie")
        .and_then(|category| category.child("vermarktungsart"));
    let flagged = |name: &str| {
        marketing
            .and_then(|element| element.attribute(name))
            .is_some_and(is_true)
    };
    let rent_price = price_of("kaltmiete")
        .or_else(|| price_of("nettokaltmiete"))
        .or_else(|| price_of("warmmiete"));
    let (transaction, raw_transaction) = if flagged("KAUF") {
        (TransactionKind::Sale, "KAUF")
    } else if flagged("MIETE_PACHT") {
        (TransactionKind::Rent, "MIETE_PACHT")
    } else if flagged("ERBPACHT") || flagged("LEASING") {
        (TransactionKind::Rent, "ERBPACHT")
    } else if price_of("kaufpreis").is_some() {
        (TransactionKind::Sale, "kaufpreis")
    } else if rent_price.is_some() {
        (TransactionKind::Rent, "kaltmiete")
    } else {
        return Err(FieldProblem::new(
            "objektkategorie.vermarktungsart",
            "",
            "neither KAUF nor MIETE_PACHT is set, and there is no kaufpreis or kaltmiete",
        ));
    };
    let currency = prices
        .and_then(|prices| prices.child("waehrung"))
        .and_then(|currency| currency.attribute("iso_waehrung"))
        .filter(|code| code.len() == 3)
        .unwrap_or("EUR")
        .to_ascii_uppercase();
    let price = match transaction {
        TransactionKind::Sale => price_of("kaufpreis").map(|amount| Price {
            amount,
            currency: currency.clone(),
            period: None,
        }),
        _ => rent_price.map(|amount| Price {
            amount,
            currency: currency.clone(),
            period: Some(RentPeriod::Month),
        }),
    };
    let (kind, raw_kind) = property_kind(object);
    let (description, translations) = descriptions(object, settings.language.as_deref().unwrap_or("de"));
    let mut number = |field: &'static str, path: &[&str]| -> Option<f64> {
        let text = object.text_at(path)?;
        match text.replace(',', ".").parse::<f64>() {
            Ok(value) if value > 0.0 => Some(value),
            Ok(_) => None,
            Err(_) => {
                warnings.push(FieldProblem::new(field, text, "not a number; left unknown"));
                None
            }
        }
    };
    let living_area = number("flaechen.wohnflaeche", &["flaechen", "wohnflaeche"])
        .or_else(|| number("flaechen.nutzflaeche", &["flaechen", "nutzflaeche"]));
    let land_area = number(
        "flaechen.grundstuecksflaeche",
        &["flaechen", "grundstuecksflaeche"],
    );
    // Rooms such as 2.5 are common; the listing counts whole rooms, so 2.5
    // becomes 2 (the raw record keeps 2.5).
    let rooms = number("flaechen.anzahl_zimmer", &["flaechen", "anzahl_zimmer"]).map(|rooms| rooms as u32);
    let bedrooms = number(
        "flaechen.anzahl_schlafzimmer",
        &["flaechen", "anzahl_schlafzimmer"],
    )
    .map(|rooms| rooms as u32);
    let bathrooms =
        number("flaechen.anzahl_badezimmer", &["flaechen", "anzahl_badezimmer"]).map(|rooms| rooms as u32);
    let floors = number("geo.anzahl_etagen", &["geo", "anzahl_etagen"]).map(|floors| floors as u32);
    let year_built = number("zustand_angaben.baujahr", &["zustand_angaben", "baujahr"])
        .map(|year| year as u16)
        .filter(|year| *year > 1000);
    let charges = price_of("nebenkosten");
    let deposit = price_of("kaution");
    let geo = object.child("geo");
    let coordinate = |name: &str| {
        geo?.child("geokoordinaten")?
            .attribute(name)
            .and_then(|text| text.parse::<f64>().ok())
            .filter(|value| *value != 0.0)
    };
    let address = match (
        object.text_at(&["geo", "strasse"]),
        object.text_at(&["geo", "hausnummer"]),
    ) {
        (Some(street), Some(number)) => Some(format!("{street} {number}")),
        (Some(street), None) => Some(street.to_string()),
        _ => None,
    };
    Ok(Converted {
        listing: Listing {
            crm: settings.crm.clone(),
            agency_code: settings.agency_code.clone().unwrap_or_default(),
            crm_agency_id: provider
                .filter(|provider| !provider.is_empty())
                .map(str::to_string),
            source_id,
            reference: object
                .text_at(&["verwaltung_techn", "objektnr_extern"])
                .map(str::to_string),
            organization: settings.organization.clone(),
            agent: agent(object, settings),
            transaction: Coded::new(transaction, raw_transaction),
            property: Coded::new(kind, raw_kind),
            property_subtype: None,
            price,
            charges,
            fees: None,
            deposit,
            living_area,
            land_area,
            rooms,
            bedrooms,
            bathrooms,
            shower_rooms: None,
            floor: object
                .text_at(&["geo", "etage"])
                .and_then(|text| text.parse().ok()),
            floors,
            year_built,
            available_from: None,
            address,
            postal_code: object.text_at(&["geo", "plz"]).map(str::to_string),
            city: object.text_at(&["geo", "ort"]).map(str::to_string),
            country: geo
                .and_then(|geo| geo.child("land"))
                .and_then(|land| land.attribute("iso_land"))
                .filter(|code| !code.is_empty())
                .map(str::to_string),
            latitude: coordinate("breitengrad"),
            longitude: coordinate("laengengrad"),
            title: object
                .text_at(&["freitexte", "objekttitel"])
                .map(|title| plain_text(title).trim().to_string()),
            description,
            translations,
            dpe: energy(object),
            ges: None,
            dpe_date: None,
            features: features(object),
            virtual_tour: None,
            photos: photos(object),
        },
        warnings,
    })
}

fn is_true(text: &str) -> bool {
    matches!(text.trim().to_ascii_lowercase().as_str(), "true" | "1")
}

/// Returns the kind from the child of `objektart`, with its type attribute
/// in the raw text (`wohnung/ETAGE`).
fn property_kind(object: &Element) -> (PropertyKind, String) {
    let Some(kind) = object
        .child("objektkategorie")
        .and_then(|category| category.child("objektart"))
        .and_then(|kinds| {
            kinds
                .children
                .iter()
                .find(|child| child.name != "objektart_zusatz")
        })
    else {
        return (PropertyKind::Other, String::new());
    };
    let mapped = match kind.name.as_str() {
        "wohnung" => PropertyKind::Apartment,
        "haus" => PropertyKind::House,
        "grundstueck" | "land_und_forstwirtschaft" => PropertyKind::Land,
        "parken" => PropertyKind::Parking,
        "buero_praxen" => PropertyKind::Office,
        "einzelhandel" | "gastgewerbe" | "hallen_lager_prod" | "freizeitimmobilie_gewerblich" => {
            PropertyKind::Commercial
        }
        "zinshaus_renditeobjekt" => PropertyKind::Building,
        _ => PropertyKind::Other,
    };
    let raw = match kind.attributes.first() {
        Some((_, value)) if !value.is_empty() => format!("{}/{value}", kind.name),
        _ => kind.name.clone(),
    };
    (mapped, raw)
}

/// Returns the description and its translations. Senders may repeat
/// `objekt_text` once per language (`lang="en"`): the one in the
/// integration's language (German by default) is the description, the
/// others are translations. Without `objekt_text`, `objektbeschreibung` is
/// used instead, and `lage` follows the description as its own paragraph.
fn descriptions(object: &Element, language: &str) -> (Option<String>, Vec<Translation>) {
    let clean = |text: &str| Some(plain_text(text).trim().to_string()).filter(|text| !text.is_empty());
    let texts: Vec<(String, String)> = object
        .child("freitexte")
        .map(|free| {
            free.children_named("objekt_text")
                .filter_map(|text| {
                    let code = text.attribute("lang").unwrap_or_default().trim().to_string();
                    clean(&text.text).map(|text| (code, text))
                })
                .collect()
        })
        .unwrap_or_default();
    let main = texts
        .iter()
        .position(|(code, _)| code.eq_ignore_ascii_case(language) || code.is_empty())
        .unwrap_or(0);
    let lage = object.text_at(&["freitexte", "lage"]).and_then(clean);
    let body = texts.get(main).map(|(_, text)| text.clone()).or_else(|| {
        object
            .text_at(&["freitexte", "objektbeschreibung"])
            .and_then(clean)
    });
    let parts: Vec<String> = [body, lage].into_iter().flatten().collect();
    let description = (!parts.is_empty()).then(|| parts.join("\n\n"));
    let translations = texts
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != main)
        .map(|(_, (code, text))| Translation {
            language: code.to_ascii_uppercase(),
            title: None,
            description: Some(text.clone()),
        })
        .collect();
    (description, translations)
}

fn energy(object: &Element) -> Option<EnergyRating> {
    let pass = object
        .child("zustand_angaben")
        .and_then(|state| state.child("energiepass"))?;
    let class = pass
        .text_at(&["wertklasse"])
        .and_then(|code| EnergyClass::from_code(code).map(|class| Coded::new(class, code)));
    let value = pass
        .text_at(&["energieverbrauchkennwert"])
        .or_else(|| pass.text_at(&["endenergiebedarf"]))
        .and_then(|text| text.replace(',', ".").parse::<f64>().ok());
    (class.is_some() || value.is_some()).then_some(EnergyRating { class, value })
}

fn features(object: &Element) -> Features {
    let Some(equipment) = object.child("ausstattung") else {
        return Features::default();
    };
    let text_flag = |name: &str| equipment.text_at(&[name]).map(is_true);
    let any_attribute = |name: &str| {
        equipment
            .child(name)
            .filter(|element| !element.attributes.is_empty())
            .map(|element| element.attributes.iter().any(|(_, value)| is_true(value)))
    };
    let attribute_in = |name: &str, attribute: &str, yes: &[&str]| {
        equipment
            .child(name)
            .and_then(|element| element.attribute(attribute))
            .map(|value| yes.contains(&value.to_ascii_uppercase().as_str()))
    };
    Features {
        furnished: attribute_in("moebliert", "moeb", &["VOLL", "TEIL"]),
        lift: any_attribute("fahrstuhl"),
        cellar: attribute_in("unterkellert", "keller", &["JA", "TEIL"]),
        terrace: None,
        pool: text_flag("swimmingpool"),
        air_conditioning: text_flag("klimatisiert"),
        fireplace: text_flag("kamin"),
        disabled_access: text_flag("barrierefrei").or_else(|| text_flag("rollstuhlgerecht")),
        ..Features::default()
    }
}

/// Returns where a photo group comes in the listing: the title picture
/// first, floor plans last; `None` for attachments that are not photos.
fn group_rank(group: &str) -> Option<u8> {
    match group.to_ascii_uppercase().as_str() {
        "TITELBILD" => Some(0),
        "BILD" | "" => Some(1),
        "INNENANSICHTEN" => Some(2),
        "AUSSENANSICHTEN" => Some(3),
        "PANORAMA" => Some(4),
        "GRUNDRISS" => Some(5),
        _ => None,
    }
}

/// Returns the photos of `anhaenge`: `INTERN` ones are files of the
/// delivery, `EXTERN` and `REMOTE` ones URLs. Documents are left out.
fn photos(object: &Element) -> Vec<Photo> {
    let Some(attachments) = object.child("anhaenge") else {
        return Vec::new();
    };
    let mut ranked: Vec<(u8, usize, Photo)> = Vec::new();
    for (position, attachment) in attachments.children_named("anhang").enumerate() {
        let Some(rank) = group_rank(attachment.attribute("gruppe").unwrap_or_default()) else {
            continue;
        };
        let format = attachment
            .text_at(&["format"])
            .unwrap_or_default()
            .to_ascii_lowercase();
        if format.contains("pdf") {
            continue;
        }
        let Some(path) = attachment.text_at(&["daten", "pfad"]) else {
            continue;
        };
        let location = attachment
            .attribute("location")
            .unwrap_or_default()
            .to_ascii_uppercase();
        let is_url = path.starts_with("http://") || path.starts_with("https://");
        let source = if location == "INTERN" || !is_url {
            PhotoSource::ArchiveMember(path.to_string())
        } else {
            PhotoSource::Url(path.to_string())
        };
        ranked.push((
            rank,
            position,
            Photo {
                source,
                caption: attachment.text_at(&["anhangtitel"]).map(str::to_string),
            },
        ));
    }
    ranked.sort_by_key(|(rank, position, _)| (*rank, *position));
    ranked.into_iter().map(|(_, _, photo)| photo).collect()
}

/// Returns the agent: the contact's direct or central e-mail through the
/// agent mapping, else the integration's default agent.
fn agent(object: &Element, settings: &ReadSettings) -> Option<String> {
    let contact = object.child("kontaktperson");
    ["email_direkt", "email_zentrale"]
        .iter()
        .filter_map(|name| contact?.text_at(&[name]))
        .find_map(|key| settings.agents.get(key).map(str::to_string))
        .or_else(|| settings.default_agent.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::xml::{RecordReader, XmlLimits};

    fn object(xml: &str) -> Element {
        RecordReader::new(xml.as_bytes(), &["immobilie"], XmlLimits::default())
            .next_record()
            .unwrap()
            .unwrap()
            .element
    }

    #[test]
    fn texts_per_language_become_translations() {
        let object = object(
            "<immobilie><freitexte><objekt_text lang=\"en\">Bright flat.</objekt_text>\
             <objekt_text lang=\"de\">Helle Wohnung.</objekt_text><lage>Am Main.</lage></freitexte></immobilie>",
        );
        let (description, translations) = descriptions(&object, "de");
        assert_eq!(description.as_deref(), Some("Helle Wohnung.\n\nAm Main."));
        assert_eq!(translations.len(), 1);
        assert_eq!(translations[0].language, "EN");
        assert_eq!(translations[0].description.as_deref(), Some("Bright flat."));

        let (english, others) = descriptions(&object, "en");
        assert_eq!(english.as_deref(), Some("Bright flat.\n\nAm Main."));
        assert_eq!(others[0].language, "DE");
    }

    #[test]
    fn empty_obid_uses_provider_key() {
        let object = object(
            "<immobilie><verwaltung_techn><openimmo_obid> </openimmo_obid>\
             <objektnr_extern>W-1</objektnr_extern></verwaltung_techn></immobilie>",
        );
        assert_eq!(source_id(&object, Some("OI-7")).as_deref(), Some("OI-7/W-1"));
        assert_eq!(source_id(&object, None).as_deref(), Some("W-1"));
        assert_eq!(action(&object), Action::Upsert);
    }
}
