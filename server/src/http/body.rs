//! Request bodies as Statuspage clients send them: JSON or Rails-style form encoding
//! (`incident[components][abc]=major_outage`), wrapped in an envelope key
//! (`{"incident": {...}}`). Type errors name the field.

use actix_web::{FromRequest, HttpRequest, dev::Payload, web::Bytes};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::ApiError;

/// A request type and the envelope key it arrives under.
pub trait Enveloped: DeserializeOwned + Default {
    const KEY: &'static str;
}

/// The unwrapped body. A body without the envelope key is taken as the object itself.
pub struct Envelope<T>(pub T);

/// The largest body the admin API reads.
pub const LIMIT: usize = 1 << 20;

impl<T: Enveloped + 'static> FromRequest for Envelope<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let bytes = Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(|e| {
                use actix_web::error::PayloadError;
                match e.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => ApiError::TooLarge("1 MiB"),
                    _ => ApiError::BadRequest(format!("could not read the body: {e}")),
                }
            })?;
            let value = parse(&content_type, &bytes)?;
            let inner = match value {
                Value::Object(mut m) if m.contains_key(T::KEY) => {
                    m.remove(T::KEY).unwrap_or(Value::Null)
                }
                other => other,
            };
            let inner = if inner.is_null() {
                Value::Object(Map::new())
            } else {
                inner
            };
            serde_path_to_error::deserialize(inner)
                .map(Envelope)
                .map_err(|e| {
                    let path = e.path().to_string();
                    let field = if path == "." {
                        T::KEY.to_owned()
                    } else {
                        format!("{}.{path}", T::KEY)
                    };
                    ApiError::Invalid {
                        code: "invalid_field",
                        message: format!("{field}: {}", e.inner()),
                        field: Some(field),
                    }
                })
        })
    }
}

fn parse(content_type: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return Ok(parse_form(bytes));
    }
    if content_type.is_empty()
        || content_type.starts_with("application/json")
        || content_type.contains("+json")
    {
        return serde_json::from_slice(bytes).map_err(|e| ApiError::Invalid {
            code: "invalid_json",
            field: None,
            message: format!("the body is not valid JSON: {e}"),
        });
    }
    Err(ApiError::UnsupportedMediaType(format!(
        "Content-Type '{content_type}' is not supported; send application/json or application/x-www-form-urlencoded"
    )))
}

/// Decodes a Rails-style nested form into JSON: `a[b][c]=x` nests objects and `a[b][]=x`
/// appends to an array. Values stay strings; request types accept strings for numbers
/// and booleans. (`form_urlencoded` does the decoding; Rails' bracket nesting is what no
/// general crate turns into an untyped tree.)
pub fn parse_form(bytes: &[u8]) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in url::form_urlencoded::parse(bytes) {
        let mut parts: Vec<&str> = Vec::new();
        let (head, rest) = key
            .split_once('[')
            .map_or((key.as_ref(), ""), |(h, r)| (h, r));
        parts.push(head);
        for seg in rest.split('[') {
            parts.push(seg.trim_end_matches(']'));
        }
        if rest.is_empty() {
            parts.truncate(1);
        }
        // Rails reads an empty value as nil: `incident[impact_override]=` clears it.
        let value = if value.is_empty() {
            Value::Null
        } else {
            Value::String(value.into_owned())
        };
        insert(&mut root, &parts, value);
    }
    root
}

fn insert(node: &mut Value, parts: &[&str], value: Value) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    if first.is_empty() {
        if !node.is_array() {
            *node = Value::Array(Vec::new());
        }
        if let Value::Array(items) = node {
            if rest.is_empty() {
                items.push(value);
            } else {
                let mut child = Value::Object(Map::new());
                insert(&mut child, rest, value);
                items.push(child);
            }
        }
        return;
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    if let Value::Object(map) = node {
        if rest.is_empty() {
            map.insert((*first).to_owned(), value);
        } else {
            let child = map.entry((*first).to_owned()).or_insert(Value::Null);
            insert(child, rest, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rails_form_nests_objects_and_arrays() {
        let v = parse_form(
            b"incident[name]=API+down&incident[components][abc]=major_outage&incident[component_ids][]=abc&incident[component_ids][]=def&incident[deliver_notifications]=false",
        );
        assert_eq!(
            v,
            json!({"incident": {
                "name": "API down",
                "components": {"abc": "major_outage"},
                "component_ids": ["abc", "def"],
                "deliver_notifications": "false"
            }})
        );
    }

    #[test]
    fn empty_values_are_null() {
        assert_eq!(
            parse_form(b"a[b]=&a[c]=x"),
            json!({"a": {"b": null, "c": "x"}})
        );
    }

    #[test]
    fn plain_keys_and_percent_encoding() {
        assert_eq!(
            parse_form(b"name=a%26b&x=1"),
            json!({"name": "a&b", "x": "1"})
        );
    }
}
