//! Booleans and numbers as JSON values or as strings: Rails-style form bodies carry
//! every value as a string (`incident[deliver_notifications]=false`). Times as ISO 8601
//! with an offset, within the range Herald takes, with an error that says how to write
//! one.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, de::Error};

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Text(String),
}

pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Scalar>::deserialize(d)? {
        None => Ok(None),
        Some(Scalar::Bool(b)) => Ok(Some(b)),
        Some(Scalar::Int(1)) => Ok(Some(true)),
        Some(Scalar::Int(0)) => Ok(Some(false)),
        Some(Scalar::Text(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            "" => Ok(None),
            other => Err(D::Error::custom(format!(
                "expected true or false, got '{other}'"
            ))),
        },
        Some(Scalar::Int(n)) => Err(D::Error::custom(format!("expected true or false, got {n}"))),
    }
}

pub fn opt_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    opt_int(d)
}

pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    opt_int(d)
}

fn opt_int<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<Option<T>, D::Error> {
    let n = match Option::<Scalar>::deserialize(d)? {
        None => return Ok(None),
        Some(Scalar::Int(n)) => n,
        Some(Scalar::Text(s)) if s.trim().is_empty() => return Ok(None),
        Some(Scalar::Text(s)) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| D::Error::custom(format!("expected a whole number, got '{s}'")))?,
        Some(Scalar::Bool(b)) => {
            return Err(D::Error::custom(format!(
                "expected a whole number, got {b}"
            )));
        }
    };
    T::try_from(n)
        .map(Some)
        .map_err(|_| D::Error::custom(format!("{n} is out of range")))
}

/// An optional time: RFC 3339 / ISO 8601 with an offset, between 1970 and 9999.
pub fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let t = match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) if NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok() => {
            return Err(D::Error::custom(format!(
                "'{text}' has no time zone: expected ISO 8601 with an offset, e.g. 2026-04-14T13:51:00Z"
            )));
        }
        Err(_) => {
            return Err(D::Error::custom(format!(
                "'{}' is not a time: expected ISO 8601 with an offset, e.g. 2026-04-14T13:51:00Z",
                text.chars().take(64).collect::<String>()
            )));
        }
    };
    crate::domain::text::time("time", t).map(Some).map_err(|_| {
        D::Error::custom(format!(
            "'{text}' is out of range: times must be between 1970-01-01 and 9999-12-31"
        ))
    })
}

/// What the lenient readers take, for the OpenAPI document: `true`/`false`, `1`/`0`, or
/// those as text (`yes`, `on`, ... too); an empty text is absent.
pub struct Bool;

impl schemars::JsonSchema for Bool {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LenientBool".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"anyOf": [
            {"type": "boolean"},
            {"enum": [0, 1, "", "true", "false", "1", "0", "yes", "no", "on", "off"]}
        ]})
    }
}

/// A position: a whole number (negative too), or one as text; an empty text is absent.
pub struct Position;

impl schemars::JsonSchema for Position {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LenientPosition".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"anyOf": [
            {"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX},
            {"type": "string", "pattern": "^-?[0-9]{1,9}$"},
            {"const": ""}
        ]})
    }
}

/// Minutes to the next update, up to [`crate::domain::incident::MAX_PROMISE_MINUTES`]
/// (0, on a change, promises nothing), or an empty text.
pub struct Minutes;

impl schemars::JsonSchema for Minutes {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LenientMinutes".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"anyOf": [
            {"type": "integer", "minimum": 0, "maximum": crate::domain::incident::MAX_PROMISE_MINUTES},
            {"const": ""}
        ]})
    }
}

/// Whole minutes from 1 to `MAX` (a page's reminder lead, a maintenance window); an
/// empty text is absent.
pub struct MinutesUpTo<const MAX: u32>;

impl<const MAX: u32> schemars::JsonSchema for MinutesUpTo<MAX> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("LenientMinutesUpTo{MAX}").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"anyOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX},
            {"const": ""}
        ]})
    }
}

/// A time in RFC 3339 with an offset, from 1970 to 9999; an empty text is absent.
pub struct Time;

impl schemars::JsonSchema for Time {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LenientTime".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"anyOf": [
            {
                "type": "string",
                "format": "date-time",
                "pattern": "^(19[7-9][0-9]|[2-9][0-9]{3})-"
            },
            {"const": ""}
        ]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct T {
        #[serde(default, deserialize_with = "opt_time")]
        at: Option<DateTime<Utc>>,
    }

    fn at(v: serde_json::Value) -> Result<Option<DateTime<Utc>>, String> {
        serde_json::from_value::<T>(serde_json::json!({ "at": v }))
            .map(|t| t.at)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn times_need_an_offset_and_a_sane_year() {
        assert!(at(serde_json::json!("2026-04-14T13:51:00Z")).is_ok_and(|t| t.is_some()));
        assert!(at(serde_json::json!("2026-04-14T15:51:00+02:00")).is_ok());
        assert!(at(serde_json::json!(null)).is_ok_and(|t| t.is_none()));
        let naive = at(serde_json::json!("2026-04-14T13:51:00"))
            .err()
            .unwrap_or_default();
        assert!(
            naive.contains("no time zone") && naive.contains("2026-04-14T13:51:00Z"),
            "{naive}"
        );
        assert!(at(serde_json::json!("+262142-12-31T23:30:00Z")).is_err());
        assert!(at(serde_json::json!("0000-01-01T00:00:00Z")).is_err());
        assert!(at(serde_json::json!("yesterday")).is_err());
    }
}
