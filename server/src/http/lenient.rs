//! Booleans and numbers as JSON values or as strings: Rails-style form bodies carry
//! every value as a string (`incident[deliver_notifications]=false`).

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
