//! An integration's `schedule`: a five-field cron expression saying when it
//! should be synced. Sync ignores it; `passerelle config crontab` turns the
//! schedules into crontab lines, and `config check` validates them.

/// The fields of a cron expression with their names and allowed ranges.
const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];

/// Returns why `expression` is not a five-field cron expression, if it is
/// not. Each field is `*`, a number, a range `a-b`, a step `*/n` or
/// `a-b/n`, or a comma-separated list of those.
pub fn problem(expression: &str) -> Option<String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.len() != FIELDS.len() {
        return Some(format!(
            "a schedule has five fields (minute hour day-of-month month day-of-week, e.g. \"15 6 * * *\"); \
             `{expression}` has {}",
            fields.len()
        ));
    }
    fields.iter().zip(FIELDS).find_map(|(field, (name, low, high))| {
        field_problem(field, low, high).map(|reason| format!("{name} `{field}`: {reason}"))
    })
}

fn field_problem(field: &str, low: u32, high: u32) -> Option<String> {
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        if let Some(step) = step
            && !step.parse::<u32>().is_ok_and(|step| step > 0)
        {
            return Some(format!("step `{step}` is not a number above 0"));
        }
        if range == "*" {
            continue;
        }
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        for bound in [first, last] {
            match bound.parse::<u32>() {
                Ok(value) if (low..=high).contains(&value) => {}
                Ok(value) => return Some(format!("{value} is outside {low}-{high}")),
                Err(_) => return Some(format!("`{bound}` is not a number")),
            }
        }
        if first.parse::<u32>().ok() > last.parse::<u32>().ok() {
            return Some(format!("range `{range}` ends before it starts"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_accepts_common_schedules() {
        for expression in [
            "15 6 * * *",
            "*/30 * * * *",
            "0 7-19 * * 1-5",
            "0,30 8 1 1,6 0",
            "5 */2 * * 7",
        ] {
            assert_eq!(problem(expression), None, "{expression}");
        }
    }

    #[test]
    fn problem_names_the_faulty_field() {
        let cases = [
            ("15 6 * *", "`15 6 * *` has 4"),
            ("60 6 * * *", "minute `60`: 60 is outside 0-59"),
            ("0 24 * * *", "hour `24`"),
            ("0 6 0 * *", "day of month `0`"),
            ("0 6 * 13 *", "month `13`"),
            ("0 6 * * mon", "day of week `mon`: `mon` is not a number"),
            ("*/0 * * * *", "step `0`"),
            ("0 19-7 * * *", "ends before it starts"),
        ];
        for (expression, expected) in cases {
            let reason = problem(expression).unwrap_or_default();
            assert!(reason.contains(expected), "{expression}: {reason}");
        }
    }
}
