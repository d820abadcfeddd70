//! What the subscriber and tenant pages share: the component picker, errors tied to
//! their field, and the CSV import with its preview.

use actix_web::{HttpResponse, http::StatusCode};
use serde::Serialize;

use super::auth::Signed;
use super::pages::{self, Frame, frame, render};
use crate::app::AppState;
use crate::bulk::{self, Format, Kind, Names};
use crate::domain::{Component, ComponentId};
use crate::http::error::ApiError;

/// The most rows a console page shows at once.
pub const PAGE_SIZE: u64 = 50;

/// A component or group to tick.
#[derive(Debug, Serialize)]
pub struct Pick {
    pub id: String,
    pub name: String,
    pub is_group: bool,
    pub ticked: bool,
}

/// The page's groups (pods) and components, each with a tick; a component is named
/// with its group.
pub fn picks(all: &[Component], ticked: &[ComponentId]) -> Vec<Pick> {
    let group_name = |c: &Component| {
        c.group_id
            .as_ref()
            .and_then(|g| all.iter().find(|x| &x.id == g))
            .map(|g| g.name.clone())
    };
    let mut out: Vec<Pick> = all
        .iter()
        .map(|c| Pick {
            id: c.id.to_string(),
            name: match group_name(c) {
                Some(g) => format!("{g} / {}", c.name),
                None => c.name.clone(),
            },
            is_group: c.is_group,
            ticked: ticked.contains(&c.id),
        })
        .collect();
    out.sort_by(|a, b| b.is_group.cmp(&a.is_group).then(a.name.cmp(&b.name)));
    out
}

/// The input an API error is about, by the form's field names.
pub fn field_of(e: &ApiError) -> Option<String> {
    let ApiError::Invalid { field: Some(f), .. } = e else {
        return None;
    };
    let f = f
        .trim_start_matches("subscriber.")
        .trim_start_matches("tenant.");
    let f = f.split('.').next().unwrap_or(f);
    Some(match f {
        "component_ids" | "group_ids" | "components" => "components".to_owned(),
        other => other.to_owned(),
    })
}

/// Lines (or commas) of a textarea, trimmed, without blanks.
pub fn lines(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Serialize)]
struct ImportView {
    layout: Frame,
    heading: &'static str,
    kind: &'static str,
    back: String,
    columns: &'static str,
    example: &'static str,
    csv: String,
    checked: bool,
    created: u64,
    skipped: u64,
    rows: Vec<String>,
    more_rows: usize,
    errors: Vec<String>,
    error: Option<String>,
    can_import: bool,
}

fn shown(kind: Kind, bytes: &[u8], names: &Names) -> Vec<String> {
    match kind {
        Kind::Subscribers => bulk::subscribers(bytes, Format::Csv, names)
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.email.unwrap_or_default())
            .collect(),
        Kind::Tenants => bulk::tenants(bytes, Format::Csv, names)
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.name.unwrap_or_default())
            .collect(),
    }
}

/// The import page: blank, or after checking (`action=preview`) or importing
/// (`action=import`) the pasted CSV. Every row is checked by the command line's own
/// import in a transaction, which is kept only when every row is good and the person
/// asked to import.
pub async fn import_page(
    state: &AppState,
    who: &Signed,
    kind: Kind,
    csv: Option<&str>,
    write: bool,
) -> HttpResponse {
    let (heading, name, columns, example) = match kind {
        Kind::Subscribers => (
            "Import subscribers",
            "subscribers",
            "email, components (ids or names separated by ;, empty follows everything). Imported people are active at once and are sent nothing.",
            "email,components\nada@example.com,API; Prod2 (EU)\nbob@example.com,\n",
        ),
        Kind::Tenants => (
            "Import tenants",
            "tenants",
            "name, emails, webhooks, components, groups (lists separated by ;, components and groups by id or name). A tenant with the name of one that exists is skipped.",
            "name,emails,groups\nAcme,ops@acme.example;cto@acme.example,Prod2 (EU)\n",
        ),
    };
    let mut view = ImportView {
        layout: frame(state, heading, Some(who), name),
        heading,
        kind: name,
        back: format!("{}/admin/{name}", state.base),
        columns,
        example,
        csv: csv.unwrap_or_default().to_owned(),
        checked: false,
        created: 0,
        skipped: 0,
        rows: Vec::new(),
        more_rows: 0,
        errors: Vec::new(),
        error: None,
        can_import: who.is_admin(),
    };
    let Some(csv) = csv else {
        return render(state, StatusCode::OK, "admin/import", &view);
    };
    if csv.trim().is_empty() {
        view.error = Some(format!(
            "Nothing was imported: paste the CSV of the {name}, with its header row."
        ));
        return render(
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "admin/import",
            &view,
        );
    }
    let bytes = csv.as_bytes();
    let ran = async {
        let components =
            crate::store::components::list(state.store.db(), state.store.page_id()).await?;
        let names = Names::new(&components);
        let mut w = state.store.begin(&who.actor, state.clock.now()).await?;
        let allow = state.notifier.webhook_allow();
        let out = bulk::import(&mut w, kind, bytes, Format::Csv, &names, allow).await?;
        let good = out.as_ref().is_ok_and(|o| o.errors.is_empty());
        let seq = if write && good {
            w.commit().await?
        } else {
            // A check, or a file with a bad row: nothing is kept.
            drop(w);
            None
        };
        Ok::<_, crate::store::StoreError>((out, shown(kind, bytes, &names), seq))
    }
    .await;
    let (out, rows, seq) = match ran {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "a console import");
            return pages::unavailable(state);
        }
    };
    view.checked = true;
    view.more_rows = rows.len().saturating_sub(100);
    view.rows = rows.into_iter().take(100).collect();
    let errors = match out {
        Ok(o) if o.errors.is_empty() => {
            view.created = o.created;
            view.skipped = o.skipped;
            Vec::new()
        }
        Ok(o) => o.errors,
        Err(errors) => errors,
    };
    if !errors.is_empty() {
        view.error = Some(format!(
            "Nothing was imported: {} {} wrong. Fix {} in the CSV and check it again.",
            errors.len(),
            if errors.len() == 1 {
                "row is"
            } else {
                "rows are"
            },
            if errors.len() == 1 { "it" } else { "them" },
        ));
        view.errors = errors.into_iter().take(200).collect();
        return render(
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "admin/import",
            &view,
        );
    }
    if write {
        state.shown(seq).await;
        return super::pages::see_other(format!(
            "{}/admin/{name}?done=imported&created={}&skipped={}",
            state.base, view.created, view.skipped
        ));
    }
    render(state, StatusCode::OK, "admin/import", &view)
}
