//! Bulk imports from files (`herald subscribers import FILE`, `herald tenants import
//! FILE`): CSV with a header row, or JSON (an array of objects, or one object holding
//! the array under `subscribers` / `tenants`). Components are named by id or by name
//! (`Voice`, or `Prod2 (EU) / Voice` when the name alone is ambiguous); lists inside a
//! CSV cell are separated by `;`. Every row is checked before anything is written, and
//! bad rows are reported by their number in the file.

use std::path::Path;

use serde::Deserialize;

use crate::domain::{Component, ComponentId};
use crate::http::v1::tenants::{TenantBody, changes};
use crate::store::{
    StoreError, Write,
    subscribers::{Imported, NewSubscriber},
    tenants::TenantChanges,
};

/// The most rows one file may hold.
pub const MAX_ROWS: usize = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// By the file's extension, else by its first character.
    pub fn of(path: &Path, bytes: &[u8]) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => Format::Json,
            Some("csv") => Format::Csv,
            _ => match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'[' | b'{') => Format::Json,
                _ => Format::Csv,
            },
        }
    }
}

/// Finds components by id or name.
pub struct Names<'a> {
    components: &'a [Component],
}

impl<'a> Names<'a> {
    pub fn new(components: &'a [Component]) -> Self {
        Names { components }
    }

    fn group_name(&self, c: &Component) -> Option<&str> {
        let g = c.group_id.as_ref()?;
        self.components
            .iter()
            .find(|x| &x.id == g)
            .map(|x| x.name.as_str())
    }

    /// `id`, `Name` (when only one component or group has it) or `Group / Name`.
    pub fn resolve(&self, text: &str) -> Result<ComponentId, String> {
        let text = text.trim();
        if let Some(c) = self.components.iter().find(|c| c.id.as_str() == text) {
            return Ok(c.id.clone());
        }
        let wanted = text.to_lowercase();
        let by_name: Vec<&Component> = self
            .components
            .iter()
            .filter(|c| c.name.trim().to_lowercase() == wanted)
            .collect();
        if let [one] = by_name.as_slice() {
            return Ok(one.id.clone());
        }
        if by_name.len() > 1 {
            return Err(format!(
                "'{text}' names {} components; write it as 'Group / {text}' or use its id",
                by_name.len()
            ));
        }
        if let Some((group, name)) = text.split_once('/') {
            let (group, name) = (group.trim().to_lowercase(), name.trim().to_lowercase());
            let found: Vec<&Component> = self
                .components
                .iter()
                .filter(|c| c.name.trim().to_lowercase() == name)
                .filter(|c| {
                    self.group_name(c)
                        .is_some_and(|g| g.trim().to_lowercase() == group)
                })
                .collect();
            if let [one] = found.as_slice() {
                return Ok(one.id.clone());
            }
        }
        Err(format!("no component or group is called '{text}'"))
    }

    fn all(&self, list: &[String]) -> Result<Vec<ComponentId>, String> {
        list.iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| self.resolve(s))
            .collect()
    }
}

/// Rows read from a file, or the problems found, each naming its row.
pub type Parsed<T> = Result<Vec<T>, Vec<String>>;

fn cell_list(cell: Option<&str>) -> Vec<String> {
    cell.unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A CSV file as rows of (lower-cased header, cell).
fn csv_rows(bytes: &[u8]) -> Result<Vec<Vec<(String, String)>>, Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| vec![format!("the header row: {e}")])?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (n, record) in reader.records().enumerate() {
        if rows.len() >= MAX_ROWS {
            errors.push(format!("more than {MAX_ROWS} rows; split the file"));
            break;
        }
        match record {
            Ok(r) => rows.push(
                headers
                    .iter()
                    .cloned()
                    .zip(r.iter().map(str::to_owned))
                    .collect(),
            ),
            Err(e) => errors.push(format!("row {}: {e}", n + 2)),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn get<'r>(row: &'r [(String, String)], names: &[&str]) -> Option<&'r str> {
    row.iter()
        .find(|(h, _)| names.contains(&h.as_str()))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A JSON document: an array, or an object with the array under `key`.
fn json_rows<T: for<'de> Deserialize<'de>>(bytes: &[u8], key: &str) -> Parsed<T> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| vec![format!("not JSON: {e}")])?;
    let list = match value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(mut o) => match o.remove(key) {
            Some(serde_json::Value::Array(a)) => a,
            _ => return Err(vec![format!("expected an array, or {{\"{key}\": [...]}}")]),
        },
        _ => return Err(vec![format!("expected an array, or {{\"{key}\": [...]}}")]),
    };
    if list.len() > MAX_ROWS {
        return Err(vec![format!("more than {MAX_ROWS} rows; split the file")]);
    }
    let mut rows = Vec::with_capacity(list.len());
    let mut errors = Vec::new();
    for (n, v) in list.into_iter().enumerate() {
        match serde_json::from_value::<T>(v) {
            Ok(r) => rows.push(r),
            Err(e) => errors.push(format!("row {}: {e}", n + 1)),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[derive(Debug, Deserialize)]
struct SubscriberRow {
    email: String,
    #[serde(default, alias = "components")]
    component_ids: Vec<String>,
}

/// Subscribers: columns `email` and `components` (ids or names, `;`-separated; empty
/// follows everything).
pub fn subscribers(bytes: &[u8], format: Format, names: &Names) -> Parsed<NewSubscriber> {
    let rows: Vec<SubscriberRow> = match format {
        Format::Json => json_rows(bytes, "subscribers")?,
        Format::Csv => csv_rows(bytes)?
            .into_iter()
            .map(|r| SubscriberRow {
                email: get(&r, &["email", "email_address"])
                    .unwrap_or_default()
                    .to_owned(),
                component_ids: cell_list(get(&r, &["components", "component_ids"])),
            })
            .collect(),
    };
    let first = if format == Format::Csv { 2 } else { 1 };
    let mut out = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for (n, r) in rows.into_iter().enumerate() {
        match names.all(&r.component_ids) {
            Ok(component_ids) => out.push(NewSubscriber {
                email: Some(r.email),
                component_ids,
                skip_confirmation_notification: true,
                ..NewSubscriber::default()
            }),
            Err(e) => errors.push(format!("row {}: {e}", n + first)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[derive(Debug, Deserialize)]
struct TenantRow {
    name: String,
    #[serde(default)]
    emails: Vec<String>,
    #[serde(default)]
    webhooks: Vec<String>,
    #[serde(default, alias = "components")]
    component_ids: Vec<String>,
    #[serde(default, alias = "groups")]
    group_ids: Vec<String>,
}

/// Tenants: columns `name`, `emails`, `webhooks`, `components` and `groups` (lists
/// `;`-separated; components and groups by id or name).
pub fn tenants(bytes: &[u8], format: Format, names: &Names) -> Parsed<TenantChanges> {
    let rows: Vec<TenantRow> = match format {
        Format::Json => json_rows(bytes, "tenants")?,
        Format::Csv => csv_rows(bytes)?
            .into_iter()
            .map(|r| TenantRow {
                name: get(&r, &["name", "tenant"]).unwrap_or_default().to_owned(),
                emails: cell_list(get(&r, &["emails", "email"])),
                webhooks: cell_list(get(&r, &["webhooks", "webhook"])),
                component_ids: cell_list(get(&r, &["components", "component_ids"])),
                group_ids: cell_list(get(&r, &["groups", "group_ids"])),
            })
            .collect(),
    };
    let first = if format == Format::Csv { 2 } else { 1 };
    let mut out = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for (n, r) in rows.into_iter().enumerate() {
        let resolved = names
            .all(&r.component_ids)
            .and_then(|c| names.all(&r.group_ids).map(|g| (c, g)));
        match resolved {
            Ok((component_ids, group_ids)) => out.push(changes(
                TenantBody {
                    name: Some(r.name),
                    emails: Some(r.emails),
                    webhooks: Some(r.webhooks),
                    component_ids: Some(component_ids),
                    group_ids: Some(group_ids),
                },
                None,
            )),
            Err(e) => errors.push(format!("row {}: {e}", n + first)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Subscribers,
    Tenants,
}

/// Reads `bytes` as rows of `kind` and imports them in `w`: the problems found while
/// reading (nothing was written), or what the import did, each bad row named by its
/// number in the file. The caller commits `w` only when `Imported::errors` is empty,
/// so that nothing is written until every row is good (the command line's `import`,
/// and the console's preview, which never commits, and import).
pub async fn import(
    w: &mut Write,
    kind: Kind,
    bytes: &[u8],
    format: Format,
    names: &Names<'_>,
    allow: &[ipnet::IpNet],
) -> Result<Result<Imported, Vec<String>>, StoreError> {
    let first = if format == Format::Csv { 2 } else { 1 };
    Ok(match kind {
        Kind::Subscribers => match subscribers(bytes, format, names) {
            Ok(rows) => Ok(crate::store::subscribers::import(w, rows, first).await?),
            Err(errors) => Err(errors),
        },
        Kind::Tenants => match tenants(bytes, format, names) {
            Ok(rows) => {
                // A tenant's webhooks pass the check the API makes when one is saved.
                let mut refused = Vec::new();
                for (n, r) in rows.iter().enumerate() {
                    for c in r.contacts.iter().flatten() {
                        if c.kind == crate::domain::Channel::Email {
                            continue;
                        }
                        if let Err(e) =
                            crate::notify::webhook::check_endpoint(&c.address, allow).await
                        {
                            refused.push(format!(
                                "row {}: webhook {} refused: {e}",
                                n + first,
                                c.address
                            ));
                        }
                    }
                }
                if refused.is_empty() {
                    Ok(crate::store::tenants::import(w, rows, first).await?)
                } else {
                    Err(refused)
                }
            }
            Err(errors) => Err(errors),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ComponentStatus, PageId};
    use chrono::Utc;

    fn component(id: &str, name: &str, group: Option<&str>, is_group: bool) -> Component {
        Component {
            id: ComponentId::from(id.to_owned()),
            page_id: PageId::from("p".to_owned()),
            name: name.into(),
            description: None,
            status: ComponentStatus::Operational,
            is_group,
            group_id: group.map(|g| ComponentId::from(g.to_owned())),
            position: 0,
            showcase: true,
            only_show_if_degraded: false,
            start_date: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn page() -> Vec<Component> {
        vec![
            component("eu", "Prod2 (EU)", None, true),
            component("us", "Prod1 (US)", None, true),
            component("voice-eu", "Voice", Some("eu"), false),
            component("voice-us", "Voice", Some("us"), false),
            component("api", "Public API", None, false),
        ]
    }

    #[test]
    fn names_ids_and_groups_resolve_and_ambiguity_is_explained() {
        let c = page();
        let n = Names::new(&c);
        assert_eq!(n.resolve("api").map(|i| i.to_string()), Ok("api".into()));
        assert_eq!(
            n.resolve(" public api ").map(|i| i.to_string()),
            Ok("api".into())
        );
        assert_eq!(
            n.resolve("Prod2 (EU) / Voice").map(|i| i.to_string()),
            Ok("voice-eu".into())
        );
        assert!(
            n.resolve("Voice")
                .is_err_and(|e| e.contains("Group / Voice"))
        );
        assert!(n.resolve("Billing").is_err_and(|e| e.contains("Billing")));
    }

    #[test]
    fn csv_and_json_subscribers_read_alike() {
        let c = page();
        let n = Names::new(&c);
        let csv =
            "\u{feff}Email,Components\nada@example.com,Public API; Prod2 (EU)\nbob@example.com,\n";
        let rows = subscribers(csv.as_bytes(), Format::Csv, &n).unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].email.as_deref(), Some("ada@example.com"));
        assert_eq!(rows[0].component_ids.len(), 2);
        assert!(rows[1].component_ids.is_empty());
        let json = r#"{"subscribers": [{"email": "ada@example.com", "component_ids": ["api"]}]}"#;
        let rows = subscribers(json.as_bytes(), Format::Json, &n).unwrap_or_default();
        assert_eq!(rows.len(), 1);
        let bad = "email,components\nada@example.com,Billing\n";
        let errors = subscribers(bad.as_bytes(), Format::Csv, &n)
            .err()
            .unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("row 2:"), "{errors:?}");
    }

    #[test]
    fn tenants_take_emails_and_pods() {
        let c = page();
        let n = Names::new(&c);
        let csv = "name,emails,groups,components\nAcme,ops@acme.test;cto@acme.test,Prod2 (EU),\n";
        let rows = tenants(csv.as_bytes(), Format::Csv, &n).unwrap_or_default();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name.as_deref(), Some("Acme"));
        assert_eq!(rows[0].contacts.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            rows[0]
                .runs_on
                .as_ref()
                .map(|r| r.iter().map(|i| i.to_string()).collect::<Vec<_>>()),
            Some(vec!["eu".to_owned()])
        );
        assert_eq!(Format::of(Path::new("x.txt"), b"  [{}]"), Format::Json);
        assert_eq!(Format::of(Path::new("x"), b"name,emails"), Format::Csv);
    }
}
