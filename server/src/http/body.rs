//! Request bodies as Statuspage clients send them: JSON or Rails-style form encoding
//! (`incident[components][abc]=major_outage`), wrapped in an envelope key
//! (`{"incident": {...}}`). Type errors name the field, in plain words. Fields Herald
//! does not know are ignored, as on Statuspage, and named in the `Herald-Ignored-Fields`
//! response header so a typo is visible.

use actix_web::{
    Error, FromRequest, HttpMessage, HttpRequest,
    body::MessageBody,
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web::Bytes,
};
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

/// A PATCH or PUT body: `None` when it says nothing (no body, `{}`, `{"incident": {}}`,
/// or only fields Herald ignores), which changes nothing and writes nothing.
pub struct Change<T>(pub Option<T>);

/// The largest body the admin API reads.
pub const LIMIT: usize = 1 << 20;

/// The deepest a Rails-style form key may nest (`a[b][c]` is three).
pub const MAX_FORM_DEPTH: usize = 32;

/// The response header naming the body fields Herald ignored.
pub const IGNORED_HEADER: &str = "herald-ignored-fields";

/// The ignored fields of a request, as dotted paths, kept on the request for
/// [`report_ignored`].
#[derive(Clone, Default)]
struct Ignored(Vec<String>);

/// A parsed body: the object, and whether it said anything Herald reads.
struct Parsed<T> {
    value: T,
    empty: bool,
}

fn read<T: Enveloped + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
) -> LocalBoxFuture<'static, Result<Parsed<T>, ApiError>> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let bytes = Bytes::from_request(req, payload);
    let within = req
        .app_data::<actix_web::web::Data<crate::app::AppState>>()
        .map_or(30, |s| s.settings.body_read_timeout);
    let req = req.clone();
    Box::pin(async move {
        let bytes = tokio::time::timeout(std::time::Duration::from_secs(within), bytes)
            .await
            .map_err(|_| {
                ApiError::RequestTimeout(format!("the body did not arrive within {within} seconds"))
            })?;
        let bytes = bytes.map_err(|e| {
            use actix_web::error::PayloadError;
            match e.as_error::<PayloadError>() {
                Some(PayloadError::Overflow) => ApiError::TooLarge("1 MiB"),
                _ => ApiError::BadRequest(format!("could not read the body: {e}")),
            }
        })?;
        let value = parse(&content_type, &bytes)?;
        let mut ignored = Vec::new();
        let inner = match value {
            Value::Object(mut m) if m.contains_key(T::KEY) => {
                // Beside the envelope, nothing is read.
                ignored.extend(m.keys().filter(|k| *k != T::KEY).cloned());
                m.remove(T::KEY).unwrap_or(Value::Null)
            }
            other => other,
        };
        let inner = if inner.is_null() {
            Value::Object(Map::new())
        } else {
            inner
        };
        let keys = inner.as_object().map_or(1, Map::len);
        let mut inside = Vec::new();
        let mut note = |path: serde_ignored::Path<'_>| inside.push(dotted(&path));
        let de = serde_ignored::Deserializer::new(inner, &mut note);
        let result: Result<T, _> = serde_path_to_error::deserialize(de);
        let value = result.map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                T::KEY.to_owned()
            } else {
                format!("{}.{path}", T::KEY)
            };
            ApiError::Invalid {
                code: "invalid_field",
                message: format!("{field}: {}", plain(&e.inner().to_string())),
                field: Some(field),
            }
        })?;
        let top_ignored = inside.iter().filter(|p| !p.contains('.')).count();
        let empty = keys == top_ignored;
        ignored.extend(inside.into_iter().map(|p| format!("{}.{p}", T::KEY)));
        if !ignored.is_empty() {
            req.extensions_mut().insert(Ignored(ignored));
        }
        Ok(Parsed { value, empty })
    })
}

/// A path as the request spells it (`components.abc`), without serde's markers for
/// options and newtypes.
fn dotted(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    let mut parts = Vec::new();
    let mut at = path;
    loop {
        match at {
            Path::Root => break,
            Path::Seq { parent, index } => {
                parts.push(index.to_string());
                at = parent;
            }
            Path::Map { parent, key } => {
                parts.push(key.clone());
                at = parent;
            }
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => at = parent,
        }
    }
    parts.reverse();
    parts.join(".")
}

impl<T: Enveloped + 'static> FromRequest for Envelope<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parsed = read::<T>(req, payload);
        Box::pin(async move { Ok(Envelope(parsed.await?.value)) })
    }
}

impl<T: Enveloped + 'static> FromRequest for Change<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parsed = read::<T>(req, payload);
        Box::pin(async move {
            let p = parsed.await?;
            Ok(Change((!p.empty).then_some(p.value)))
        })
    }
}

/// Puts the fields a body extractor ignored in the `Herald-Ignored-Fields` header.
pub async fn report_ignored(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    let ignored = res.request().extensions().get::<Ignored>().cloned();
    if let Some(Ignored(fields)) = ignored {
        let mut list = fields.join(",");
        if list.len() > 2048 {
            let cut = (0..=2048)
                .rev()
                .find(|i| list.is_char_boundary(*i))
                .unwrap_or(0);
            list.truncate(cut);
        }
        if let Ok(v) = HeaderValue::from_str(&list) {
            res.headers_mut()
                .insert(HeaderName::from_static(IGNORED_HEADER), v);
        }
    }
    Ok(res)
}

/// Serde's messages without Rust's type names: `expected struct IncidentBody` says
/// `expected an object`, `expected u32` says `expected a whole number`.
pub fn plain(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    let next = |s: &str| {
        ["expected ", "to a "]
            .iter()
            .filter_map(|m| s.find(m).map(|at| (at, m.len())))
            .min()
    };
    while let Some((at, len)) = next(rest) {
        out.push_str(&rest[..at + len]);
        rest = &rest[at + len..];
        let word = |s: &str| {
            s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(s.len())
        };
        let mut replaced = false;
        for (kind, says) in [
            ("struct ", "an object"),
            ("tuple struct ", "a list"),
            ("unit struct ", "nothing"),
            ("enum ", "one of the allowed values"),
            ("newtype struct ", "a value"),
        ] {
            if let Some(after) = rest.strip_prefix(kind) {
                out.push_str(says);
                rest = &after[word(after)..];
                replaced = true;
                break;
            }
        }
        if replaced {
            continue;
        }
        let w = word(rest);
        let says = match &rest[..w] {
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => Some("a whole number of 0 or more"),
            "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => Some("a whole number"),
            "f32" | "f64" => Some("a number"),
            "char" => Some("one character"),
            _ => None,
        };
        if let Some(says) = says {
            out.push_str(says);
            rest = &rest[w..];
        }
    }
    out.push_str(rest);
    out.replace("to a a ", "to a ")
        .replace("to a an ", "to an ")
}

fn parse(content_type: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return parse_form(bytes);
    }
    if content_type.is_empty()
        || content_type.starts_with("application/json")
        || content_type.contains("+json")
    {
        return serde_json::from_slice(bytes).map_err(|e| ApiError::Invalid {
            code: "invalid_json",
            field: None,
            message: format!("the body is not valid JSON: {}", plain(&e.to_string())),
        });
    }
    Err(ApiError::UnsupportedMediaType(format!(
        "Content-Type '{content_type}' is not supported; send application/json or application/x-www-form-urlencoded"
    )))
}

/// Decodes a Rails-style nested form into JSON: `a[b][c]=x` nests objects and `a[b][]=x`
/// appends to an array. Values stay strings; request types accept strings for numbers
/// and booleans. (`form_urlencoded` does the decoding; Rails' bracket nesting is what no
/// general crate turns into an untyped tree.) A key nested deeper than
/// [`MAX_FORM_DEPTH`] and an empty key (`=value`) are refused.
pub fn parse_form(bytes: &[u8]) -> Result<Value, ApiError> {
    let mut root = Value::Object(Map::new());
    for (key, value) in url::form_urlencoded::parse(bytes) {
        let shown = || key.chars().take(64).collect::<String>();
        let mut parts: Vec<&str> = Vec::new();
        let (head, rest) = key
            .split_once('[')
            .map_or((key.as_ref(), ""), |(h, r)| (h, r));
        if head.is_empty() {
            return Err(ApiError::Invalid {
                code: "empty_form_key",
                field: Some(shown()),
                message: format!(
                    "the form field '{}' has no name: send name=value pairs such as component[name]=API",
                    shown()
                ),
            });
        }
        parts.push(head);
        for seg in rest.split('[') {
            if parts.len() >= MAX_FORM_DEPTH {
                return Err(ApiError::Invalid {
                    code: "form_too_deep",
                    field: Some(shown()),
                    message: format!(
                        "the form field '{}…' nests more than {MAX_FORM_DEPTH} levels deep",
                        shown()
                    ),
                });
            }
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
    Ok(root)
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
        )
        .ok();
        assert_eq!(
            v,
            Some(json!({"incident": {
                "name": "API down",
                "components": {"abc": "major_outage"},
                "component_ids": ["abc", "def"],
                "deliver_notifications": "false"
            }}))
        );
    }

    #[test]
    fn empty_values_are_null() {
        assert_eq!(
            parse_form(b"a[b]=&a[c]=x").ok(),
            Some(json!({"a": {"b": null, "c": "x"}}))
        );
    }

    #[test]
    fn plain_keys_and_percent_encoding() {
        assert_eq!(
            parse_form(b"name=a%26b&x=1").ok(),
            Some(json!({"name": "a&b", "x": "1"}))
        );
    }

    #[test]
    fn deep_and_nameless_form_keys_are_refused() {
        let deep = format!("component{}=1", "[a]".repeat(5_000));
        assert!(matches!(
            parse_form(deep.as_bytes()),
            Err(ApiError::Invalid {
                code: "form_too_deep",
                ..
            })
        ));
        let ok = format!("a{}=1", "[a]".repeat(MAX_FORM_DEPTH - 1));
        assert!(parse_form(ok.as_bytes()).is_ok());
        assert!(matches!(
            parse_form(b"=pos-name&=pos-desc"),
            Err(ApiError::Invalid {
                code: "empty_form_key",
                ..
            })
        ));
    }

    #[test]
    fn messages_name_no_rust_types() {
        assert_eq!(
            plain("invalid type: string \"x\", expected struct IncidentBody"),
            "invalid type: string \"x\", expected an object"
        );
        assert_eq!(
            plain("invalid value: integer `-1`, expected u32 at line 1"),
            "invalid value: integer `-1`, expected a whole number of 0 or more at line 1"
        );
        assert_eq!(
            plain("expected enum Role"),
            "expected one of the allowed values"
        );
        assert_eq!(plain("expected a string"), "expected a string");
        assert_eq!(
            plain("can not parse \"x\" to a i64"),
            "can not parse \"x\" to a whole number"
        );
    }
}
