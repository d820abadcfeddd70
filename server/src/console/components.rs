//! The components board: components by group with their status, showcase flags and
//! place; a status form on each row; create, edit, move and delete components and
//! groups. Every form becomes the admin API's body (`ComponentBody`, `GroupBody`) and
//! goes through the same conversion and store write as `.../components` and
//! `.../component-groups`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use chrono::NaiveDate;
use serde::Serialize;

use super::auth::{Form, Posted, Signed, Viewing};
use super::incidents::{Opt, options};
use super::pages::{self, Frame, frame, query_param, render, see_other};
use crate::app::AppState;
use crate::domain::{Component, ComponentId, ComponentStatus};
use crate::http::{
    error::ApiError,
    v1::{
        commit,
        components::{
            ComponentBody, GroupBody, component_patch, group_patch, new_component, new_group,
        },
    },
};
use crate::render::statuspage::ComponentIndex;
use crate::store::components;

/// Every status a component may be set to by hand, worst last.
const STATUSES: [ComponentStatus; 5] = [
    ComponentStatus::Operational,
    ComponentStatus::UnderMaintenance,
    ComponentStatus::DegradedPerformance,
    ComponentStatus::PartialOutage,
    ComponentStatus::MajorOutage,
];

/// What went wrong with a form, as a sentence, and the field it is about (the form's
/// input name) so the page ties the two together.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub message: String,
    pub field: Option<String>,
}

impl Problem {
    pub fn new(message: impl Into<String>, field: Option<&str>) -> Problem {
        Problem {
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }

    /// An API error as a sentence; its field without the body's key (`component.name`
    /// is the form's `name`).
    pub fn of(e: &ApiError) -> Problem {
        match e {
            ApiError::Internal(_) => Problem::new(
                "Something went wrong on the server; nothing was changed. Try again.",
                None,
            ),
            ApiError::Invalid { field, message, .. } => Problem {
                message: format!("Nothing was changed: {message}"),
                field: field
                    .as_deref()
                    .map(|f| f.rsplit('.').next().unwrap_or(f).to_owned()),
            },
            other => Problem::new(format!("Nothing was changed: {other}"), None),
        }
    }
}

/// The input a problem is about, "" for none (the pages compare it with `eq`).
pub fn field_of(p: Option<&Problem>) -> String {
    p.and_then(|p| p.field.clone()).unwrap_or_default()
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    name: String,
    description: Option<String>,
    status: &'static str,
    status_label: &'static str,
    statuses: Vec<Opt>,
    showcase: bool,
    only_show_if_degraded: bool,
    start_date: Option<String>,
    position: i32,
    first: bool,
    last: bool,
}

#[derive(Debug, Serialize)]
struct BoardGroup {
    /// None for the components in no group.
    id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    status: &'static str,
    status_label: &'static str,
    position: i32,
    first: bool,
    last: bool,
    components: Vec<Row>,
}

/// What the create forms say (kept when one comes back with an error).
#[derive(Debug, Default, Serialize)]
pub struct Fields {
    name: String,
    description: String,
    group_id: String,
    start_date: String,
    status: String,
    showcase: bool,
    only_show_if_degraded: bool,
}

#[derive(Serialize)]
struct BoardView {
    layout: Frame,
    groups: Vec<BoardGroup>,
    count: usize,
    group_options: Vec<Opt>,
    status_options: Vec<Opt>,
    new_component: Fields,
    new_group: Fields,
    /// Which form the problem is about: "component", "group" or "board".
    problem_in: &'static str,
    problem: Option<Problem>,
    /// The input the problem is about ("" for none).
    problem_field: String,
    notice: Option<&'static str>,
}

fn row(c: &Component, first: bool, last: bool) -> Row {
    Row {
        id: c.id.to_string(),
        name: c.name.clone(),
        description: c.description.clone(),
        status: c.status.as_str(),
        status_label: c.status.label(),
        statuses: options(&STATUSES, Some(c.status), |s| (s.as_str(), s.label())),
        showcase: c.showcase,
        only_show_if_degraded: c.only_show_if_degraded,
        start_date: c.start_date.map(|d| d.format("%Y-%m-%d").to_string()),
        position: c.position,
        first,
        last,
    }
}

fn rows(list: &[&Component]) -> Vec<Row> {
    let n = list.len();
    list.iter()
        .enumerate()
        .map(|(i, c)| row(c, i == 0, i + 1 == n))
        .collect()
}

/// The board: groups in the page's order with their components, then those in none.
fn board_groups(all: &[Component]) -> Vec<BoardGroup> {
    let index = ComponentIndex::new(all);
    let groups: Vec<&Component> = all
        .iter()
        .filter(|c| c.is_group && c.group_id.is_none())
        .collect();
    let loose: Vec<&Component> = all
        .iter()
        .filter(|c| !c.is_group && c.group_id.is_none())
        .collect();
    let n = groups.len();
    let mut out: Vec<BoardGroup> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let s = index.status(g);
            BoardGroup {
                id: Some(g.id.to_string()),
                name: Some(g.name.clone()),
                description: g.description.clone(),
                status: s.as_str(),
                status_label: s.label(),
                position: g.position,
                first: i == 0,
                last: i + 1 == n,
                components: rows(index.children(&g.id)),
            }
        })
        .collect();
    if !loose.is_empty() {
        out.push(BoardGroup {
            id: None,
            name: None,
            description: None,
            status: "",
            status_label: "",
            position: 0,
            first: true,
            last: true,
            components: rows(&loose),
        });
    }
    out
}

fn group_options(all: &[Component], chosen: Option<&str>) -> Vec<Opt> {
    all.iter()
        .filter(|c| c.is_group)
        .map(|g| Opt {
            value: g.id.to_string(),
            label: g.name.clone(),
            selected: chosen == Some(g.id.as_str()),
        })
        .collect()
}

/// How a board page comes back: its status, the forms' text and the problem.
struct Again {
    status: StatusCode,
    new_component: Fields,
    new_group: Fields,
    problem_in: &'static str,
    problem: Option<Problem>,
    notice: Option<&'static str>,
}

impl Again {
    fn fresh(notice: Option<&'static str>) -> Again {
        Again {
            status: StatusCode::OK,
            new_component: Fields {
                showcase: true,
                ..Fields::default()
            },
            new_group: Fields::default(),
            problem_in: "",
            problem: None,
            notice,
        }
    }

    fn problem(in_form: &'static str, p: Problem) -> Again {
        Again {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            problem_in: in_form,
            problem: Some(p),
            ..Again::fresh(None)
        }
    }
}

async fn board_page(state: &AppState, who: &Signed, a: Again) -> HttpResponse {
    let all = match components::list(state.store.db(), state.store.page_id()).await {
        Ok(all) => all,
        Err(e) => {
            tracing::error!(error = %e, "the components board");
            return pages::unavailable(state);
        }
    };
    let chosen_status = a
        .new_component
        .status
        .parse::<ComponentStatus>()
        .unwrap_or(ComponentStatus::Operational);
    let view = BoardView {
        layout: frame(state, "Components", Some(who), "components"),
        groups: board_groups(&all),
        count: all.iter().filter(|c| !c.is_group).count(),
        group_options: group_options(&all, Some(a.new_component.group_id.as_str())),
        status_options: options(&STATUSES, Some(chosen_status), |s| (s.as_str(), s.label())),
        new_component: a.new_component,
        new_group: a.new_group,
        problem_in: a.problem_in,
        problem_field: field_of(a.problem.as_ref()),
        problem: a.problem,
        notice: a.notice,
    };
    render(state, a.status, "admin/board", &view)
}

fn board_notice(done: &str) -> Option<&'static str> {
    match done {
        "created" => Some("The component is created and on the public page."),
        "status" => Some("The status is set; the public page shows it."),
        "moved" => Some("The order is changed on the public page."),
        "deleted" => Some("The component is deleted."),
        "group-created" => Some("The group is created."),
        "group-deleted" => Some("The group is deleted; its components stay, in no group."),
        _ => None,
    }
}

pub async fn board(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
) -> HttpResponse {
    let notice = board_notice(&query_param(&req, "done").unwrap_or_default());
    board_page(&state, &who, Again::fresh(notice)).await
}

/// The component fields of a form, as the API's body. `creating` leaves out what a
/// create does not clear.
fn component_body(form: &Form, creating: bool) -> Result<(ComponentBody, Fields), Problem> {
    let fields = fields_of(form);
    let status = match form.text("status") {
        None => None,
        Some(s) => Some(s.parse::<ComponentStatus>().map_err(|_| {
            Problem::new(
                format!("Nothing was changed: '{s}' is not a status a component can have."),
                Some("status"),
            )
        })?),
    };
    let start_date = match form.text("start_date") {
        None => None,
        Some(d) => Some(d.parse::<NaiveDate>().map_err(|_| {
            Problem::new(
                format!(
                    "Nothing was changed: the start date must be a date like 2026-04-14, not '{d}'."
                ),
                Some("start_date"),
            )
        })?),
    };
    let clear = |v: Option<String>| -> Option<Option<String>> {
        if creating { v.map(Some) } else { Some(v) }
    };
    let body = ComponentBody {
        // Blank on an edit form is refused as the API refuses an empty name.
        name: if creating {
            form.text("name")
        } else {
            Some(form.str("name").trim().to_owned())
        },
        description: clear(form.text("description")),
        status,
        group_id: if creating {
            form.text("group_id").map(|g| Some(ComponentId::from(g)))
        } else {
            Some(form.text("group_id").map(ComponentId::from))
        },
        showcase: Some(fields.showcase),
        only_show_if_degraded: Some(fields.only_show_if_degraded),
        start_date: if creating {
            start_date.map(Some)
        } else {
            Some(start_date)
        },
        position: None,
    };
    Ok((body, fields))
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn create(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    let (body, fields) = match component_body(&p.form, true) {
        Ok(x) => x,
        Err(problem) => {
            let mut a = Again::problem("component", problem);
            a.new_component = fields_of(&p.form);
            return board_page(&state, &p.who, a).await;
        }
    };
    let made = async {
        let new = new_component(body)?;
        commit(&state, &p.who.actor, async |w| {
            components::create(w, new).await
        })
        .await
    }
    .await;
    match made {
        Ok((c, shown)) => {
            shown.wait(&state).await;
            see_other(format!(
                "{}/admin/components?done=created#c-{}",
                state.base, c.id
            ))
        }
        Err(e) => {
            let mut a = Again::problem("component", Problem::of(&e));
            a.new_component = fields;
            board_page(&state, &p.who, a).await
        }
    }
}

fn fields_of(form: &Form) -> Fields {
    Fields {
        name: form.str("name").trim().to_owned(),
        description: form.str("description").trim().to_owned(),
        group_id: form.str("group_id").trim().to_owned(),
        start_date: form.str("start_date").trim().to_owned(),
        status: form.str("status").trim().to_owned(),
        showcase: form.ticked("showcase"),
        only_show_if_degraded: form.ticked("only_show_if_degraded"),
    }
}

/// Sets a component's status from its row on the board, as `PATCH .../components/{id}`
/// with `status` does.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, component))]
pub async fn set_status(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = ComponentId::from(path.into_inner());
    tracing::Span::current().record("component", id.as_str());
    let Some(status) = p
        .form
        .text("status")
        .and_then(|s| s.parse::<ComponentStatus>().ok())
    else {
        let problem = Problem::new(
            "Nothing was changed: choose the status the component has now.",
            None,
        );
        return board_page(&state, &p.who, Again::problem("board", problem)).await;
    };
    let body = ComponentBody {
        status: Some(status),
        ..ComponentBody::default()
    };
    let patch = component_patch(body);
    let done = commit(&state, &p.who.actor, async |w| {
        components::update(w, &id, false, patch).await
    })
    .await;
    match done {
        Ok((_, shown)) => {
            shown.wait(&state).await;
            see_other(format!(
                "{}/admin/components?done=status#c-{id}",
                state.base
            ))
        }
        Err(ApiError::NotFound(_)) => pages::not_found(&state, Some(&p.who), "component"),
        Err(e) => board_page(&state, &p.who, Again::problem("board", Problem::of(&e))).await,
    }
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn create_group(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    let fields = Fields {
        name: p.form.str("name").trim().to_owned(),
        description: p.form.str("description").trim().to_owned(),
        ..Fields::default()
    };
    let body = GroupBody {
        name: p.form.text("name"),
        description: p.form.text("description").map(Some),
        components: None,
        position: None,
    };
    let made = async {
        let new = new_group(body)?;
        commit(&state, &p.who.actor, async |w| {
            components::create(w, new).await
        })
        .await
    }
    .await;
    match made {
        Ok((g, shown)) => {
            shown.wait(&state).await;
            see_other(format!(
                "{}/admin/components?done=group-created#g-{}",
                state.base, g.id
            ))
        }
        Err(e) => {
            let mut a = Again::problem("group", Problem::of(&e));
            a.new_group = fields;
            board_page(&state, &p.who, a).await
        }
    }
}

/// The 1-based place that moves `id` one step `up` or down among its siblings (the
/// components of its group, or the groups), as `position` in the API's body.
fn step(all: &[Component], id: &ComponentId, up: bool) -> Option<i32> {
    let me = all.iter().find(|c| &c.id == id)?;
    let siblings: Vec<&Component> = all
        .iter()
        .filter(|c| c.is_group == me.is_group && c.group_id == me.group_id)
        .collect();
    let at = siblings.iter().position(|c| &c.id == id)?;
    let next = if up {
        siblings.get(at.checked_sub(1)?)?
    } else {
        siblings.get(at + 1)?
    };
    let place = all.iter().position(|c| c.id == next.id)?;
    i32::try_from(place + 1).ok()
}

// ---- One component -------------------------------------------------------------------

#[derive(Serialize)]
struct ComponentPage {
    layout: Frame,
    id: String,
    name: String,
    status_label: &'static str,
    fields: Fields,
    group_options: Vec<Opt>,
    status_options: Vec<Opt>,
    problem: Option<Problem>,
    problem_field: String,
    notice: Option<String>,
}

struct Shown {
    status: StatusCode,
    fields: Option<Fields>,
    problem: Option<Problem>,
    notice: Option<String>,
}

impl Shown {
    fn ok(notice: Option<String>) -> Shown {
        Shown {
            status: StatusCode::OK,
            fields: None,
            problem: None,
            notice,
        }
    }

    fn problem(p: Problem, fields: Option<Fields>) -> Shown {
        Shown {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            fields,
            problem: Some(p),
            notice: None,
        }
    }
}

async fn component_page(
    state: &AppState,
    who: &Signed,
    id: &ComponentId,
    s: Shown,
) -> HttpResponse {
    let db = state.store.db();
    let all = match components::list(db, state.store.page_id()).await {
        Ok(all) => all,
        Err(e) => {
            tracing::error!(error = %e, "the component page");
            return pages::unavailable(state);
        }
    };
    let Some(c) = all.iter().find(|c| &c.id == id && !c.is_group) else {
        return pages::not_found(state, Some(who), "component");
    };
    let fields = s.fields.unwrap_or_else(|| Fields {
        name: c.name.clone(),
        description: c.description.clone().unwrap_or_default(),
        group_id: c
            .group_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        start_date: c
            .start_date
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        status: c.status.as_str().to_owned(),
        showcase: c.showcase,
        only_show_if_degraded: c.only_show_if_degraded,
    });
    let chosen = fields.status.parse().unwrap_or(c.status);
    let view = ComponentPage {
        layout: frame(state, &c.name, Some(who), "components"),
        id: c.id.to_string(),
        name: c.name.clone(),
        status_label: c.status.label(),
        group_options: group_options(&all, Some(fields.group_id.as_str())),
        status_options: options(&STATUSES, Some(chosen), |s| (s.as_str(), s.label())),
        fields,
        problem_field: field_of(s.problem.as_ref()),
        problem: s.problem,
        notice: s.notice,
    };
    render(state, s.status, "admin/component", &view)
}

pub async fn component(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
    path: web::Path<String>,
) -> HttpResponse {
    let id = ComponentId::from(path.into_inner());
    let notice = (query_param(&req, "done").unwrap_or_default() == "saved")
        .then(|| "The component is saved.".to_owned());
    component_page(&state, &who, &id, Shown::ok(notice)).await
}

/// Saves, moves or deletes a component (`action` = `save`, `up`, `down`, `delete`);
/// any other button changes nothing and says so.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, component))]
pub async fn change(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = ComponentId::from(path.into_inner());
    tracing::Span::current().record("component", id.as_str());
    let action = p.form.str("action").to_owned();
    match action.as_str() {
        "save" => {
            let (body, fields) = match component_body(&p.form, false) {
                Ok(x) => x,
                Err(problem) => {
                    let s = Shown::problem(problem, Some(fields_of(&p.form)));
                    return component_page(&state, &p.who, &id, s).await;
                }
            };
            let patch = component_patch(body);
            let done = commit(&state, &p.who.actor, async |w| {
                components::update(w, &id, false, patch).await
            })
            .await;
            match done {
                Ok((_, shown)) => {
                    shown.wait(&state).await;
                    see_other(format!("{}/admin/components/{id}?done=saved", state.base))
                }
                Err(ApiError::NotFound(_)) => pages::not_found(&state, Some(&p.who), "component"),
                Err(e) => {
                    let s = Shown::problem(Problem::of(&e), Some(fields));
                    component_page(&state, &p.who, &id, s).await
                }
            }
        }
        "up" | "down" => move_one(&state, &p, &id, false, action == "up").await,
        "delete" => {
            let force = p.form.ticked("force");
            let done = commit(&state, &p.who.actor, async |w| {
                components::delete(w, &id, false, force).await
            })
            .await;
            match done {
                Ok((_, shown)) => {
                    shown.wait(&state).await;
                    see_other(format!("{}/admin/components?done=deleted", state.base))
                }
                Err(ApiError::NotFound(_)) => pages::not_found(&state, Some(&p.who), "component"),
                Err(ApiError::Conflict(m)) => {
                    // The API's sentence, with this form's way to force it.
                    let m = m.replace(
                        "delete with force=true",
                        "tick “Also take it out of open incidents”",
                    );
                    let problem = Problem::new(format!("Nothing was changed: {m}"), Some("force"));
                    component_page(&state, &p.who, &id, Shown::problem(problem, None)).await
                }
                Err(e) => {
                    let s = Shown::problem(Problem::of(&e), None);
                    component_page(&state, &p.who, &id, s).await
                }
            }
        }
        _ => {
            let s = Shown::ok(Some(
                "Nothing was changed: use Save to keep your edits, or Delete to remove the component."
                    .to_owned(),
            ));
            component_page(&state, &p.who, &id, s).await
        }
    }
}

/// Moves a component or a group one step, as `PATCH` with `position` does.
async fn move_one(
    state: &AppState,
    p: &Posted,
    id: &ComponentId,
    group: bool,
    up: bool,
) -> HttpResponse {
    let all = match components::list(state.store.db(), state.store.page_id()).await {
        Ok(all) => all,
        Err(e) => {
            tracing::error!(error = %e, "moving a component");
            return pages::unavailable(state);
        }
    };
    if !all.iter().any(|c| &c.id == id && c.is_group == group) {
        let what = if group {
            "component group"
        } else {
            "component"
        };
        return pages::not_found(state, Some(&p.who), what);
    }
    let Some(position) = step(&all, id, up) else {
        let where_ = if up { "first" } else { "last" };
        let mut a = Again::fresh(None);
        a.problem_in = "board";
        a.problem = Some(Problem::new(
            format!("Nothing was changed: it is already the {where_}."),
            None,
        ));
        return board_page(state, &p.who, a).await;
    };
    let patch = if group {
        group_patch(GroupBody {
            position: Some(position),
            ..GroupBody::default()
        })
    } else {
        component_patch(ComponentBody {
            position: Some(position),
            ..ComponentBody::default()
        })
    };
    let done = commit(state, &p.who.actor, async |w| {
        components::update(w, id, group, patch).await
    })
    .await;
    match done {
        Ok((_, shown)) => {
            shown.wait(state).await;
            let anchor = if group { "g" } else { "c" };
            see_other(format!(
                "{}/admin/components?done=moved#{anchor}-{id}",
                state.base
            ))
        }
        Err(e) => board_page(state, &p.who, Again::problem("board", Problem::of(&e))).await,
    }
}

// ---- One group -----------------------------------------------------------------------

#[derive(Serialize)]
struct Member {
    id: String,
    name: String,
    status_label: &'static str,
}

#[derive(Serialize)]
struct GroupPage {
    layout: Frame,
    id: String,
    name: String,
    fields: Fields,
    members: Vec<Member>,
    member_count: usize,
    problem: Option<Problem>,
    problem_field: String,
    notice: Option<String>,
}

async fn group_page(state: &AppState, who: &Signed, id: &ComponentId, s: Shown) -> HttpResponse {
    let all = match components::list(state.store.db(), state.store.page_id()).await {
        Ok(all) => all,
        Err(e) => {
            tracing::error!(error = %e, "the component group page");
            return pages::unavailable(state);
        }
    };
    let Some(g) = all.iter().find(|c| &c.id == id && c.is_group) else {
        return pages::not_found(state, Some(who), "component group");
    };
    let index = ComponentIndex::new(&all);
    let members: Vec<Member> = index
        .children(&g.id)
        .iter()
        .map(|c| Member {
            id: c.id.to_string(),
            name: c.name.clone(),
            status_label: c.status.label(),
        })
        .collect();
    let view = GroupPage {
        layout: frame(state, &g.name, Some(who), "components"),
        id: g.id.to_string(),
        name: g.name.clone(),
        fields: s.fields.unwrap_or_else(|| Fields {
            name: g.name.clone(),
            description: g.description.clone().unwrap_or_default(),
            ..Fields::default()
        }),
        member_count: members.len(),
        members,
        problem_field: field_of(s.problem.as_ref()),
        problem: s.problem,
        notice: s.notice,
    };
    render(state, s.status, "admin/group", &view)
}

pub async fn group(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
    path: web::Path<String>,
) -> HttpResponse {
    let id = ComponentId::from(path.into_inner());
    let notice = (query_param(&req, "done").unwrap_or_default() == "saved")
        .then(|| "The group is saved.".to_owned());
    group_page(&state, &who, &id, Shown::ok(notice)).await
}

/// Renames, moves or deletes a group (`action` = `save`, `up`, `down`, `delete`).
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, group))]
pub async fn change_group(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = ComponentId::from(path.into_inner());
    tracing::Span::current().record("group", id.as_str());
    let action = p.form.str("action").to_owned();
    match action.as_str() {
        "save" => {
            let fields = Fields {
                name: p.form.str("name").trim().to_owned(),
                description: p.form.str("description").trim().to_owned(),
                ..Fields::default()
            };
            let patch = group_patch(GroupBody {
                name: Some(fields.name.clone()),
                description: Some(p.form.text("description")),
                components: None,
                position: None,
            });
            let done = commit(&state, &p.who.actor, async |w| {
                components::update(w, &id, true, patch).await
            })
            .await;
            match done {
                Ok((_, shown)) => {
                    shown.wait(&state).await;
                    see_other(format!(
                        "{}/admin/component-groups/{id}?done=saved",
                        state.base
                    ))
                }
                Err(ApiError::NotFound(_)) => {
                    pages::not_found(&state, Some(&p.who), "component group")
                }
                Err(e) => {
                    let s = Shown::problem(Problem::of(&e), Some(fields));
                    group_page(&state, &p.who, &id, s).await
                }
            }
        }
        "up" | "down" => move_one(&state, &p, &id, true, action == "up").await,
        "delete" => {
            let done = commit(&state, &p.who.actor, async |w| {
                components::delete(w, &id, true, false).await
            })
            .await;
            match done {
                Ok((_, shown)) => {
                    shown.wait(&state).await;
                    see_other(format!(
                        "{}/admin/components?done=group-deleted",
                        state.base
                    ))
                }
                Err(ApiError::NotFound(_)) => {
                    pages::not_found(&state, Some(&p.who), "component group")
                }
                Err(e) => {
                    let s = Shown::problem(Problem::of(&e), None);
                    group_page(&state, &p.who, &id, s).await
                }
            }
        }
        _ => {
            let s = Shown::ok(Some(
                "Nothing was changed: use Save to rename the group, or Delete to remove it."
                    .to_owned(),
            ));
            group_page(&state, &p.who, &id, s).await
        }
    }
}
