//! Parsing of Poliris field values: numbers as CRMs really write them,
//! `OUI`/`NON`, `JJ/MM/AAAA` dates and `<br>`-marked descriptions.
//!
//! Every parser returns `Ok(None)` for an empty field, so unknown never
//! becomes zero, and `Err` with a reason a person can act on.

use chrono::NaiveDate;

/// Parses a decimal number written with a point or a comma as the decimal
/// separator and spaces, non-breaking spaces, apostrophes or the other
/// separator for thousands: `249 500,00`, `249500.00`, `1.250.000`,
/// `1,250,000.50` and `12,5` all parse. A trailing `€` is ignored.
pub fn parse_decimal(text: &str) -> Result<Option<f64>, String> {
    let trimmed = text.trim().trim_end_matches('€').trim_end();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let compact: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\''))
        .collect();
    let commas = compact.matches(',').count();
    let points = compact.matches('.').count();
    let normalized = match (commas, points) {
        (0, 0) | (0, 1) => compact,
        (1, 0) => compact.replace(',', "."),
        (_, 0) => compact.replace(',', ""),
        (0, _) => compact.replace('.', ""),
        _ => {
            // Both separators: the last one is the decimal separator.
            let decimal = if compact.rfind(',') > compact.rfind('.') {
                ','
            } else {
                '.'
            };
            let thousands = if decimal == ',' { '.' } else { ',' };
            compact.replace(thousands, "").replace(decimal, ".")
        }
    };
    let valid = normalized
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'));
    match normalized.parse::<f64>() {
        Ok(value) if valid && value.is_finite() => Ok(Some(value)),
        _ => Err(format!("`{trimmed}` is not a number")),
    }
}

/// Parses a whole number; `3`, `3.0` and `3,00` are accepted, `3.5` is not.
pub fn parse_integer(text: &str) -> Result<Option<i64>, String> {
    let Some(value) = parse_decimal(text)? else {
        return Ok(None);
    };
    if value.fract() != 0.0 || value.abs() > i64::MAX as f64 {
        return Err(format!("`{}` is not a whole number", text.trim()));
    }
    Ok(Some(value as i64))
}

/// Parses a count that cannot be negative, such as rooms.
pub fn parse_count(text: &str) -> Result<Option<u32>, String> {
    match parse_integer(text)? {
        None => Ok(None),
        Some(value) => u32::try_from(value)
            .map(Some)
            .map_err(|_| format!("`{}` is not a count of zero or more", text.trim())),
    }
}

/// Parses `OUI`/`NON` and the variants CRMs write: `O`/`N`, `1`/`0`,
/// `true`/`false`, `yes`/`no`, in any letter case.
pub fn parse_bool(text: &str) -> Result<Option<bool>, String> {
    let value = match text.trim().to_ascii_lowercase().as_str() {
        "" => return Ok(None),
        "oui" | "o" | "1" | "true" | "yes" | "y" => true,
        "non" | "n" | "0" | "false" | "no" => false,
        _ => return Err(format!("`{}` is not OUI or NON", text.trim())),
    };
    Ok(Some(value))
}

/// Parses a `JJ/MM/AAAA` date (also `AAAA-MM-JJ`). The placeholders
/// `00/00/0000` and `01/01/1900` mean unknown.
pub fn parse_date(text: &str) -> Result<Option<NaiveDate>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed == "00/00/0000" || trimmed == "01/01/1900" {
        return Ok(None);
    }
    NaiveDate::parse_from_str(trimmed, "%d/%m/%Y")
        .or_else(|_| NaiveDate::parse_from_str(trimmed, "%Y-%m-%d"))
        .map(Some)
        .map_err(|_| format!("`{trimmed}` is not a valid date (expected day/month/year, JJ/MM/AAAA)"))
}

/// Turns a Poliris description into plain text: each `<br>` variant
/// (`<BR>`, `<br/>`, `<br />`) becomes a line break, other tags are removed,
/// common HTML entities are decoded, and blank runs are tidied.
pub fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let looks_like_tag = after[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        match after.find('>') {
            Some(end) if looks_like_tag && end <= 64 => {
                let tag = after[1..end]
                    .trim()
                    .trim_end_matches('/')
                    .trim()
                    .to_ascii_lowercase();
                if tag == "br" || tag == "p" || tag == "/p" {
                    out.push('\n');
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('<');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    tidy_lines(&decode_entities(&out))
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let decoded = after.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &after[1..end];
            let character = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                "euro" => Some('€'),
                _ => name
                    .strip_prefix("#x")
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|decimal| decimal.parse().ok()))
                    .and_then(char::from_u32),
            };
            character.map(|character| (character, end))
        });
        match decoded {
            Some((character, end)) => {
                out.push(character);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Trims each line, keeps at most one blank line in a row, and trims the whole.
fn tidy_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\u{a0}' || c == '\r');
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        out.push_str(line);
        blank_run = 0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_magnitude() {
        let cases = [
            ("249 500,00", 249_500.0),
            ("249500.00", 249_500.0),
            ("249\u{a0}500", 249_500.0),
            ("1.250.000", 1_250_000.0),
            ("1,250,000.50", 1_250_000.5),
            ("1.250.000,50", 1_250_000.5),
            ("12,5", 12.5),
            ("5.66", 5.66),
            ("349800", 349_800.0),
            ("1 200 €", 1_200.0),
            ("-3", -3.0),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_decimal(text), Ok(Some(expected)), "{text}");
        }
    }

    #[test]
    fn empty_decimal_is_unknown() {
        assert_eq!(parse_decimal(""), Ok(None));
        assert_eq!(parse_decimal("   "), Ok(None));
    }

    #[test]
    fn invalid_decimal_names_the_value() {
        assert_eq!(
            parse_decimal("sur demande"),
            Err("`sur demande` is not a number".to_string())
        );
        assert!(parse_decimal("12a").is_err());
        assert!(parse_decimal("NaN").is_err());
        assert!(parse_decimal("inf").is_err());
    }

    #[test]
    fn integers_accept_zero_fractions_only() {
        assert_eq!(parse_integer("3"), Ok(Some(3)));
        assert_eq!(parse_integer("3.00"), Ok(Some(3)));
        assert_eq!(parse_integer("3,0"), Ok(Some(3)));
        assert!(parse_integer("3.5").is_err());
        assert!(parse_count("-1").is_err());
        assert_eq!(parse_count(""), Ok(None));
    }

    #[test]
    fn booleans_accept_common_spellings() {
        for text in ["OUI", "oui", "O", "1", "true", "Yes"] {
            assert_eq!(parse_bool(text), Ok(Some(true)), "{text}");
        }
        for text in ["NON", "non", "N", "0", "false", "no"] {
            assert_eq!(parse_bool(text), Ok(Some(false)), "{text}");
        }
        assert_eq!(parse_bool(""), Ok(None));
        assert!(parse_bool("peut-être").is_err());
    }

    #[test]
    fn placeholder_dates_are_unknown() {
        assert_eq!(parse_date("00/00/0000"), Ok(None));
        assert_eq!(parse_date(""), Ok(None));
        assert_eq!(
            parse_date("11/12/2024"),
            Ok(NaiveDate::from_ymd_opt(2024, 12, 11))
        );
        assert_eq!(
            parse_date("2024-12-11"),
            Ok(NaiveDate::from_ymd_opt(2024, 12, 11))
        );
        assert!(parse_date("31/02/2024").is_err());
    }

    #[test]
    fn description_markup_becomes_text() {
        let text = " Belle maison.<BR>Trois chambres<br/>Jardin<br />  <br>  <b>Calme</b> &amp; lumineux ";
        assert_eq!(
            plain_text(text),
            "Belle maison.\nTrois chambres\nJardin\n\nCalme & lumineux"
        );
    }

    #[test]
    fn lone_angle_bracket_is_kept() {
        assert_eq!(
            plain_text("surface < 50 m2 & prix > 100"),
            "surface < 50 m2 & prix > 100"
        );
    }

    #[test]
    fn numeric_entities_decode() {
        assert_eq!(plain_text("caf&#233; &#x2013; 2"), "café – 2");
    }
}
