//! Incident templates (maintenance templates too) by template group: create, edit with
//! a preview rendered as the public page renders it, delete; template groups: create,
//! rename, delete. Every form becomes the admin API's `TemplateBody` or `GroupBody` and
//! goes through the same conversion, checks and store write as
//! `.../incident_templates` and `.../incident_template_groups`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Serialize;

use super::auth::{Form, Posted, Signed, Viewing};
use super::components::{Problem, field_of};
use super::incidents::{Opt, options};
use super::pages::{self, Frame, frame, query_param, render, see_other};
use crate::app::AppState;
use crate::domain::{
    Component, ComponentId, IncidentStatus,
    template::{self, Target},
};
use crate::http::{
    error::ApiError,
    v1::{
        View, commit,
        templates::{Given, TemplateBody, changes, fill_with},
    },
};
use crate::render::statuspage::ComponentIndex;
use crate::store::{
    StoreError,
    templates::{self as store, Group, MAX_TEMPLATES, Template},
};

// ---- The list ------------------------------------------------------------------------

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    name: String,
    status_label: &'static str,
    maintenance: bool,
    components: usize,
    notifies: bool,
    minutes: Option<i32>,
}

#[derive(Debug, Serialize)]
struct ListGroup {
    /// None for the templates in no group.
    id: Option<String>,
    name: Option<String>,
    templates: Vec<Row>,
}

#[derive(Serialize)]
struct ListView {
    layout: Frame,
    /// Whether the person may change templates (the API keeps that to admins).
    can_edit: bool,
    groups: Vec<ListGroup>,
    count: usize,
    new_group: String,
    problem_in: String,
    problem: Option<Problem>,
    notice: Option<&'static str>,
}

fn row(t: &Template) -> Row {
    let status = store::status(t);
    Row {
        id: t.id.clone(),
        name: t.name.clone(),
        status_label: status.map_or("", IncidentStatus::label),
        maintenance: status.is_some_and(IncidentStatus::is_maintenance),
        components: store::component_ids(t).len(),
        notifies: t.should_send_notifications,
        minutes: t.next_update_minutes,
    }
}

fn can_edit(who: &Signed) -> bool {
    who.user.role >= crate::domain::Role::Admin
}

struct Again {
    status: StatusCode,
    new_group: String,
    problem_in: String,
    problem: Option<Problem>,
    notice: Option<&'static str>,
}

impl Again {
    fn fresh(notice: Option<&'static str>) -> Again {
        Again {
            status: StatusCode::OK,
            new_group: String::new(),
            problem_in: String::new(),
            problem: None,
            notice,
        }
    }

    fn problem(status: StatusCode, problem_in: &str, p: Problem) -> Again {
        Again {
            status,
            problem_in: problem_in.to_owned(),
            problem: Some(p),
            ..Again::fresh(None)
        }
    }
}

async fn list_page(state: &AppState, who: &Signed, a: Again) -> HttpResponse {
    let db = state.store.db();
    let page = state.store.page_id();
    let loaded = async {
        let groups = store::groups(db, page).await?;
        let all = store::list(db, page, MAX_TEMPLATES, 0).await?;
        Ok::<_, StoreError>((groups, all))
    }
    .await;
    let (groups, all) = match loaded {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "the templates page");
            return pages::unavailable(state);
        }
    };
    let mut out: Vec<ListGroup> = groups
        .iter()
        .map(|g| ListGroup {
            id: Some(g.id.clone()),
            name: Some(g.name.clone()),
            templates: all
                .iter()
                .filter(|t| t.group_id.as_deref() == Some(g.id.as_str()))
                .map(row)
                .collect(),
        })
        .collect();
    // In no group, or in one that is gone.
    let loose: Vec<Row> = all
        .iter()
        .filter(|t| {
            t.group_id
                .as_deref()
                .is_none_or(|id| !groups.iter().any(|g| g.id == id))
        })
        .map(row)
        .collect();
    if !loose.is_empty() {
        out.push(ListGroup {
            id: None,
            name: None,
            templates: loose,
        });
    }
    let view = ListView {
        layout: frame(state, "Templates", Some(who), "templates"),
        can_edit: can_edit(who),
        groups: out,
        count: all.len(),
        new_group: a.new_group,
        problem_in: a.problem_in,
        problem: a.problem,
        notice: a.notice,
    };
    render(state, a.status, "admin/templates", &view)
}

pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
) -> HttpResponse {
    let notice = match query_param(&req, "done").unwrap_or_default().as_str() {
        "deleted" => Some("The template is deleted."),
        "group-created" => Some("The template group is created."),
        "group-renamed" => Some("The template group is renamed."),
        "group-deleted" => Some("The template group is deleted; its templates stay, in no group."),
        _ => None,
    };
    list_page(&state, &who, Again::fresh(notice)).await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn create_group(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    let name = p.form.str("name").trim().to_owned();
    let made = commit(&state, &p.who.actor, async |w| {
        store::create_group(w, &name).await
    })
    .await;
    match made {
        Ok((_, shown)) => {
            shown.wait(&state).await;
            see_other(format!("{}/admin/templates?done=group-created", state.base))
        }
        Err(e) => {
            let mut a = Again::problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "new-group",
                Problem::of(&e),
            );
            a.new_group = name;
            list_page(&state, &p.who, a).await
        }
    }
}

/// Renames (`action=rename`) or deletes (`action=delete`) a template group.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, group))]
pub async fn change_group(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    tracing::Span::current().record("group", id.as_str());
    let (done, outcome) = match p.form.str("action") {
        "rename" => {
            let name = p.form.str("name").trim().to_owned();
            let r = commit(&state, &p.who.actor, async |w| {
                store::rename_group(w, &id, &name).await
            })
            .await;
            ("group-renamed", r.map(|(_, s)| s))
        }
        "delete" => {
            let r = commit(&state, &p.who.actor, async |w| {
                store::delete_group(w, &id).await
            })
            .await;
            ("group-deleted", r.map(|(_, s)| s))
        }
        _ => {
            let a = Again::problem(
                StatusCode::OK,
                &id,
                Problem::new(
                    "Nothing was changed: use Rename to rename the group, or Delete to remove it.",
                    None,
                ),
            );
            return list_page(&state, &p.who, a).await;
        }
    };
    match outcome {
        Ok(shown) => {
            shown.wait(&state).await;
            see_other(format!("{}/admin/templates?done={done}", state.base))
        }
        Err(ApiError::NotFound(_)) => pages::not_found(&state, Some(&p.who), "template group"),
        Err(e) => {
            let a = Again::problem(StatusCode::UNPROCESSABLE_ENTITY, &id, Problem::of(&e));
            list_page(&state, &p.who, a).await
        }
    }
}

// ---- One template --------------------------------------------------------------------

/// What a template form says.
#[derive(Debug, Clone, Default, Serialize)]
struct Fields {
    name: String,
    title: String,
    body: String,
    group_id: String,
    update_status: String,
    next_update_minutes: String,
    notify: bool,
    component_ids: Vec<String>,
}

impl Fields {
    fn of_template(t: &Template) -> Fields {
        Fields {
            name: t.name.clone(),
            title: t.title.clone(),
            body: t.body.clone(),
            group_id: t.group_id.clone().unwrap_or_default(),
            update_status: t.update_status.clone(),
            next_update_minutes: t
                .next_update_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
            notify: t.should_send_notifications,
            component_ids: store::component_ids(t)
                .into_iter()
                .map(|c| c.to_string())
                .collect(),
        }
    }

    fn of_form(form: &Form) -> Fields {
        Fields {
            name: form.str("name").trim().to_owned(),
            title: form.str("title").replace("\r\n", "\n"),
            body: form.str("body").replace("\r\n", "\n"),
            group_id: form.str("group_id").trim().to_owned(),
            update_status: form.str("update_status").trim().to_owned(),
            next_update_minutes: form.str("next_update_minutes").trim().to_owned(),
            notify: form.ticked("should_send_notifications"),
            component_ids: form
                .list("affected")
                .into_iter()
                .take(crate::domain::component::MAX_MEMBERS)
                .collect(),
        }
    }

    /// The API's body for these fields.
    fn body(&self) -> Result<TemplateBody, Problem> {
        let minutes = if self.next_update_minutes.is_empty() {
            None
        } else {
            Some(self.next_update_minutes.parse::<u32>().map_err(|_| {
                Problem::new(
                    "Nothing was changed: the promise is a whole number of minutes (or empty for none).",
                    Some("next_update_minutes"),
                )
            })?)
        };
        Ok(TemplateBody {
            name: Some(self.name.clone()),
            title: Some(self.title.clone()),
            body: Some(self.body.clone()),
            group_id: Some(Some(self.group_id.clone()).filter(|g| !g.is_empty())),
            update_status: Some(self.update_status.clone()).filter(|s| !s.is_empty()),
            should_tweet: None,
            should_send_notifications: Some(self.notify),
            next_update_minutes: Some(minutes),
            component_ids: Some(
                self.component_ids
                    .iter()
                    .cloned()
                    .map(ComponentId::from)
                    .collect(),
            ),
        })
    }
}

#[derive(Debug, Serialize)]
struct Pick {
    id: String,
    name: String,
    ticked: bool,
}

#[derive(Debug, Serialize)]
struct PickGroup {
    name: Option<String>,
    components: Vec<Pick>,
}

/// The components by group, in the board's order, with the template's ticked.
fn picker(all: &[Component], ticked: &[String]) -> Vec<PickGroup> {
    let index = ComponentIndex::new(all);
    let pick = |c: &Component| Pick {
        id: c.id.to_string(),
        name: c.name.clone(),
        ticked: ticked.iter().any(|t| t == c.id.as_str()),
    };
    let mut out = Vec::new();
    let mut loose = Vec::new();
    for c in all.iter().filter(|c| c.group_id.is_none()) {
        if c.is_group {
            out.push(PickGroup {
                name: Some(c.name.clone()),
                components: index.children(&c.id).iter().map(|m| pick(m)).collect(),
            });
        } else {
            loose.push(pick(c));
        }
    }
    if !loose.is_empty() {
        out.push(PickGroup {
            name: None,
            components: loose,
        });
    }
    out.retain(|g| !g.components.is_empty());
    out
}

#[derive(Debug, Serialize)]
struct Preview {
    title: String,
    body_html: String,
}

#[derive(Serialize)]
struct EditView {
    layout: Frame,
    can_edit: bool,
    /// None for a new template.
    id: Option<String>,
    heading: String,
    maintenance: bool,
    fields: Fields,
    statuses: Vec<Opt>,
    groups: Vec<Opt>,
    picker: Vec<PickGroup>,
    variables: Vec<&'static str>,
    preview: Option<Preview>,
    problem: Option<Problem>,
    problem_field: String,
    notice: Option<String>,
}

struct Shown {
    status: StatusCode,
    fields: Option<Fields>,
    preview: Option<Preview>,
    problem: Option<Problem>,
    notice: Option<String>,
}

impl Shown {
    fn ok(notice: Option<String>) -> Shown {
        Shown {
            status: StatusCode::OK,
            fields: None,
            preview: None,
            problem: None,
            notice,
        }
    }

    fn problem(p: Problem, fields: Fields) -> Shown {
        Shown {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            fields: Some(fields),
            preview: None,
            problem: Some(p),
            notice: None,
        }
    }
}

/// The variables a template may use, for the form's hint.
const VARIABLES: &[&str] = &[
    "page.name",
    "page.url",
    "page.support_url",
    "incident.name",
    "incident.status",
    "incident.impact",
    "incident.started",
    "component_names",
    "pods",
    "components",
    "next_update.minutes",
    "next_update.local",
    "next_update.utc",
    "maintenance.starts",
    "maintenance.ends",
    "vars.NAME",
];

async fn edit_page(state: &AppState, who: &Signed, id: Option<&str>, s: Shown) -> HttpResponse {
    let db = state.store.db();
    let page = state.store.page_id();
    let loaded = async {
        let t = match id {
            Some(id) => Some(store::get(db, page, id).await?),
            None => None,
        };
        let groups: Vec<Group> = store::groups(db, page).await?;
        let all = crate::store::components::list(db, page).await?;
        Ok::<_, StoreError>((t, groups, all))
    }
    .await;
    let (t, groups, all) = match loaded {
        Ok(x) => x,
        Err(StoreError::NotFound { .. }) => {
            return pages::not_found(state, Some(who), "incident template");
        }
        Err(e) => {
            tracing::error!(error = %e, "the template page");
            return pages::unavailable(state);
        }
    };
    let fields = s.fields.unwrap_or_else(|| {
        t.as_ref().map_or_else(
            || Fields {
                update_status: IncidentStatus::Investigating.as_str().to_owned(),
                notify: true,
                ..Fields::default()
            },
            Fields::of_template,
        )
    });
    let chosen = fields.update_status.parse::<IncidentStatus>().ok();
    let heading = t.as_ref().map_or_else(
        || "New template".to_owned(),
        |t| format!("Template: {}", t.name),
    );
    let view = EditView {
        layout: frame(state, &heading, Some(who), "templates"),
        can_edit: can_edit(who),
        id: t.as_ref().map(|t| t.id.clone()),
        heading,
        maintenance: chosen.is_some_and(IncidentStatus::is_maintenance),
        statuses: options(IncidentStatus::ALL, chosen, |st| {
            let label = if st.is_maintenance() {
                match st {
                    IncidentStatus::Cancelled => "Maintenance: Cancelled",
                    IncidentStatus::Scheduled => "Maintenance: Scheduled",
                    IncidentStatus::InProgress => "Maintenance: In progress",
                    IncidentStatus::Verifying => "Maintenance: Verifying",
                    _ => "Maintenance: Completed",
                }
            } else {
                st.label()
            };
            (st.as_str(), label)
        }),
        groups: groups
            .iter()
            .map(|g| Opt {
                value: g.id.clone(),
                label: g.name.clone(),
                selected: g.id == fields.group_id,
            })
            .collect(),
        picker: picker(&all, &fields.component_ids),
        variables: VARIABLES.to_vec(),
        fields,
        preview: s.preview,
        problem_field: field_of(s.problem.as_ref()),
        problem: s.problem,
        notice: s.notice,
    };
    render(state, s.status, "admin/template", &view)
}

pub async fn new_form(state: web::Data<AppState>, Viewing(who): Viewing) -> HttpResponse {
    edit_page(&state, &who, None, Shown::ok(None)).await
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    let notice = match query_param(&req, "done").unwrap_or_default().as_str() {
        "created" => Some("The template is created; it is in the declare form's list.".to_owned()),
        "saved" => Some("The template is saved.".to_owned()),
        _ => None,
    };
    edit_page(&state, &who, Some(&id), Shown::ok(notice)).await
}

/// The template as the form has it, rendered with the page's facts now: the title as
/// text, the body through the one Markdown renderer the public page uses. Free
/// variables show as their names.
async fn preview(state: &AppState, f: &Fields) -> Result<Preview, Problem> {
    template::check("title", &f.title, Target::Title)
        .and_then(|()| template::check("body", &f.body, Target::Markdown))
        .map_err(|e| Problem::of(&ApiError::from(StoreError::from(e))))?;
    let view = View::load(state).await.map_err(|e| Problem::of(&e))?;
    let now = state.clock.now();
    let mut vars = serde_json::Map::new();
    for v in template::free_variables(&f.title)
        .into_iter()
        .chain(template::free_variables(&f.body))
    {
        vars.insert(v.clone(), serde_json::Value::String(format!("[{v}]")));
    }
    let minutes = f.next_update_minutes.parse::<i32>().ok();
    let t = Template {
        id: String::new(),
        page_id: state.store.page_id().clone(),
        group_id: None,
        name: f.name.clone(),
        title: f.title.clone(),
        body: f.body.clone(),
        update_status: f.update_status.clone(),
        should_tweet: false,
        should_send_notifications: f.notify,
        next_update_minutes: minutes,
        component_ids: serde_json::json!(f.component_ids).to_string(),
        position: 0,
        created_at: now,
        updated_at: now,
    };
    let given = Given {
        name: None,
        body: None,
        status: None,
        components: Vec::new(),
        next_update_in_minutes: None,
        next_update_due_at: None,
        scheduled_for: None,
        scheduled_until: None,
        started_at: None,
        vars: Some(&vars),
    };
    let filled = fill_with(&view, &t, given, None, now, Target::Markdown).map_err(|e| {
        let mut p = Problem::of(&e);
        p.field = Some("body".to_owned());
        p
    })?;
    let body = filled.body.unwrap_or_default();
    Ok(Preview {
        title: filled.name.unwrap_or_default(),
        body_html: state.snapshots.markdown().html(&body).to_string(),
    })
}

/// Creates (`id` None) or saves a template; `preview` shows it first.
async fn save(state: &AppState, p: &Posted, id: Option<&str>) -> HttpResponse {
    let fields = Fields::of_form(&p.form);
    if p.form.str("action") == "preview" {
        let s = match preview(state, &fields).await {
            Ok(pv) => Shown {
                status: StatusCode::OK,
                fields: Some(fields),
                preview: Some(pv),
                problem: None,
                notice: None,
            },
            Err(problem) => Shown::problem(problem, fields),
        };
        return edit_page(state, &p.who, id, s).await;
    }
    let body = match fields.body() {
        Ok(b) => b,
        Err(problem) => return edit_page(state, &p.who, id, Shown::problem(problem, fields)).await,
    };
    let c = changes(body);
    let done = match id {
        None => commit(state, &p.who.actor, async |w| store::create(w, c).await).await,
        Some(id) => commit(state, &p.who.actor, async |w| store::update(w, id, c).await).await,
    };
    match done {
        Ok((t, shown)) => {
            shown.wait(state).await;
            let what = if id.is_some() { "saved" } else { "created" };
            see_other(format!(
                "{}/admin/templates/{}?done={what}",
                state.base, t.id
            ))
        }
        Err(ApiError::NotFound(_)) => pages::not_found(state, Some(&p.who), "incident template"),
        Err(e) => edit_page(state, &p.who, id, Shown::problem(Problem::of(&e), fields)).await,
    }
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn create(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    save(&state, &p, None).await
}

/// Saves (`action=save`), previews (`action=preview`) or deletes (`action=delete`) a
/// template; any other button changes nothing and says so.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, template))]
pub async fn change(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    tracing::Span::current().record("template", id.as_str());
    match p.form.str("action") {
        "save" | "preview" => save(&state, &p, Some(&id)).await,
        "delete" => {
            let done = commit(&state, &p.who.actor, async |w| store::delete(w, &id).await).await;
            match done {
                Ok((_, shown)) => {
                    shown.wait(&state).await;
                    see_other(format!("{}/admin/templates?done=deleted", state.base))
                }
                Err(ApiError::NotFound(_)) => {
                    pages::not_found(&state, Some(&p.who), "incident template")
                }
                Err(e) => {
                    let s = Shown {
                        status: StatusCode::UNPROCESSABLE_ENTITY,
                        fields: None,
                        preview: None,
                        problem: Some(Problem::of(&e)),
                        notice: None,
                    };
                    edit_page(&state, &p.who, Some(&id), s).await
                }
            }
        }
        _ => {
            let s = Shown::ok(Some(
                "Nothing was changed: use Save to keep your edits, Preview to see them, or Delete to remove the template."
                    .to_owned(),
            ));
            edit_page(&state, &p.who, Some(&id), s).await
        }
    }
}
