//! Scheduled maintenance in the console: the list (in progress, upcoming, recently
//! over, recurring series), scheduling one (or a series) with a preview of what will go
//! out and when, and one maintenance's page: reschedule, post an update, start or
//! complete it now, cancel it. A series' page edits its rule or ends it.
//!
//! Every form becomes the admin API's body (`IncidentBody`, `SeriesBody`) and goes
//! through the same conversion and write as `http::v1`; the reminder times shown are
//! the domain's own (`maintenance::reminder_plan`), the occurrences the rule's own
//! (`series::Rule::starts`).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::auth::{Form, Posted, Signed, Viewing};
use super::incidents::{
    DeliveryCount, Opt, PickGroup, audience_text, delivery_counts, options, picker_with,
    ticked_with,
};
use super::pages::{self, Frame, frame, query_param, render, said, see_other, tz_of};
use crate::app::AppState;
use crate::domain::{
    ComponentStatus, Incident, IncidentId, IncidentStatus,
    maintenance::{self as plan, reminder_plan},
    series::{Rule, local_start},
};
use crate::http::{
    error::ApiError,
    v1::{
        commit,
        incidents::{IncidentBody, templated},
        series::{SeriesBody, changes as series_changes},
    },
};
use crate::render::time::{TimeView, time_view};
use crate::store::{
    StoreError, components,
    incidents::{self, Command, Filter},
    series::{self, Series},
};

/// Rows in each list of the maintenance page.
const PER_LIST: u64 = 50;
/// Past maintenances per page.
const PAST_PAGE: u64 = 20;
/// Occurrences of a series shown (the latest).
const SHOWN_OCCURRENCES: usize = 20;
/// Next starts of a rule shown.
const NEXT_STARTS: u16 = 5;
/// How far a form's date may be from now before it is taken for a typo.
const SANE_YEARS: i64 = 10;

/// The statuses an update to a maintenance may post.
const UPDATE_STATUSES: [IncidentStatus; 4] = [
    IncidentStatus::Scheduled,
    IncidentStatus::InProgress,
    IncidentStatus::Verifying,
    IncidentStatus::Completed,
];

/// Errors by form field (`starts`, `ends`, `rrule`, ...; `form` for the rest).
type Errors = BTreeMap<&'static str, String>;

fn one_error(field: &'static str, m: impl Into<String>) -> Errors {
    let mut e = Errors::new();
    e.insert(field, m.into());
    e
}

/// The form field an API error is about.
fn field_of(e: &ApiError) -> &'static str {
    let ApiError::Invalid { field: Some(f), .. } = e else {
        return "form";
    };
    match f.rsplit('.').next().unwrap_or(f) {
        "name" => "name",
        "body" => "body",
        "scheduled_for" | "starts_at_local" | "time_zone" => "starts",
        "scheduled_until" => "ends",
        "duration_minutes" => "duration",
        "rrule" => "rrule",
        "scheduled_reminders" => "reminders",
        "components" | "component_ids" | "component_group_ids" => "components",
        "template_id" | "template_vars" => "template_id",
        _ => "form",
    }
}

/// An API error as a sentence next to its field.
fn api_errors(e: &ApiError, duration_is: &'static str) -> Errors {
    let f = match field_of(e) {
        "duration" => duration_is,
        f => f,
    };
    one_error(f, said(e))
}

/// Every field an error may be about: each is present (null when fine), as the
/// templates are strict.
const FIELDS: [&str; 15] = [
    "form",
    "name",
    "body",
    "template_id",
    "components",
    "starts",
    "ends",
    "duration",
    "reminders",
    "rrule",
    "status",
    "start",
    "complete",
    "cancel",
    "end",
];

fn field_errors(e: &Errors) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for f in FIELDS {
        m.insert(
            f.to_owned(),
            e.get(f).map_or(serde_json::Value::Null, |v| {
                serde_json::Value::String(v.clone())
            }),
        );
    }
    serde_json::Value::Object(m)
}

#[derive(Debug, Serialize)]
struct ErrorView {
    field: &'static str,
    message: String,
}

fn error_list(e: &Errors) -> Vec<ErrorView> {
    e.iter()
        .map(|(f, m)| ErrorView {
            field: f,
            message: m.clone(),
        })
        .collect()
}

/// A `datetime-local` value read in `tz`; a time the clocks skip is refused, one they
/// repeat is the first. Years far from now are taken for typos.
fn local_time(
    label: &str,
    v: &str,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<(NaiveDateTime, DateTime<Utc>), String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(format!("Say when it {label}."));
    }
    let naive = local_start(label, v).map_err(|_| {
        format!("'{v}' is not a date and time like 2026-12-03T02:00 (it is read in {tz}).")
    })?;
    let t = tz
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(|| {
            format!(
                "{} does not exist in {tz}: the clocks skip it. Choose another time.",
                naive.format("%b %-d, %Y %H:%M")
            )
        })?
        .with_timezone(&Utc);
    let far = Duration::days(366 * SANE_YEARS);
    if t > now + far || t < now - far {
        return Err(format!(
            "{} is more than {SANE_YEARS} years from now: check the year.",
            naive.format("%Y-%m-%d %H:%M")
        ));
    }
    Ok((naive, t))
}

/// A time as a `datetime-local` value in `tz`.
fn local_value(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()
}

/// Reminder offsets as the API takes them: minutes before the start, "1440, 60".
fn read_reminders(v: &str) -> Result<Vec<u32>, String> {
    v.split([',', ' ', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>())
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|_| {
            "Reminders are whole minutes before the start, separated by commas, like 1440, 60 (a day and an hour ahead).".to_owned()
        })
}

fn reminders_text(r: &[u32]) -> String {
    r.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, Serialize)]
struct ReminderView {
    lead: String,
    at: TimeView,
    sends: bool,
}

fn reminder_views(m: &Incident, tz: Tz) -> Vec<ReminderView> {
    if !m.scheduled_remind_prior {
        return Vec::new();
    }
    reminder_plan(m)
        .into_iter()
        .map(|r| ReminderView {
            lead: plan::lead(r.minutes),
            at: time_view(r.at, tz),
            sends: r.sends,
        })
        .collect()
}

/// What a schedule, a reschedule or an update will send, before it is saved.
#[derive(Debug, Serialize)]
struct Preview {
    name: String,
    status_label: &'static str,
    window: String,
    body_html: Option<String>,
    /// The notice followers get about the change, when it is not the update's text.
    notice: Option<String>,
    subject: Option<String>,
    audience: String,
    reminders_on: bool,
    reminders: Vec<ReminderView>,
    /// For a series: the next starts.
    occurrences: Vec<String>,
}

fn window_of(m: &Incident, tz: Tz) -> String {
    m.scheduled_for
        .map(|s| plan::window(s, m.scheduled_until, tz))
        .unwrap_or_default()
}

async fn preview_of(
    state: &AppState,
    out: &incidents::Outcome,
    notice: Option<String>,
    tz: Tz,
) -> Result<Preview, ApiError> {
    let m = &out.incident;
    let told = state.notifier.preview(m, &out.events).await?;
    let body = out
        .posted_update
        .then(|| m.updates.first())
        .flatten()
        .map(|u| state.snapshots.markdown().html(&u.body).to_string());
    let audience = if told.notifies {
        audience_text(&told)
    } else if notice.is_some() {
        "Followers of this maintenance are told (when notifications are on).".to_owned()
    } else {
        "Nobody will be told of this change: notifications are off, or it posts no update."
            .to_owned()
    };
    Ok(Preview {
        name: m.name.clone(),
        status_label: m.status.label(),
        window: window_of(m, tz),
        body_html: body,
        notice,
        subject: told.samples.email.as_ref().map(|s| s.subject.clone()),
        audience,
        reminders_on: m.scheduled_remind_prior,
        reminders: reminder_views(m, tz),
        occurrences: Vec::new(),
    })
}

fn notice_of(req: &HttpRequest) -> Option<&'static str> {
    let done = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v.into_owned())?;
    Some(match done.as_str() {
        "scheduled" => "The maintenance is scheduled.",
        "series" => "The recurring maintenance is saved; its occurrences are made ahead of time.",
        "rescheduled" => "The maintenance is rescheduled.",
        "updated" => "The update is posted.",
        "started" => "The maintenance is in progress.",
        "completed" => "The maintenance is completed.",
        "cancelled" => "The maintenance is cancelled.",
        "ended" => "The series is ended: occurrences not yet started are cancelled.",
        _ => return None,
    })
}

fn failed(state: &AppState, e: &StoreError, what: &str) -> HttpResponse {
    tracing::error!(error = %e, what);
    pages::unavailable(state)
}

// ---------------------------------------------------------------------------------
// The list.

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    name: String,
    status: &'static str,
    status_label: &'static str,
    window: String,
    starts: Option<TimeView>,
}

fn row(m: &Incident, tz: Tz) -> Row {
    Row {
        id: m.id.to_string(),
        name: m.name.clone(),
        status: m.status.as_str(),
        status_label: m.status.label(),
        window: window_of(m, tz),
        starts: m.scheduled_for.map(|t| time_view(t, tz)),
    }
}

#[derive(Debug, Serialize)]
struct SeriesRow {
    id: String,
    name: String,
    rrule: String,
    time_zone: String,
    ended: bool,
    next: Option<TimeView>,
}

fn series_row(s: &Series, now: DateTime<Utc>, tz: Tz) -> SeriesRow {
    let next = match (s.ended_at, s.rule()) {
        (None, Ok(rule)) => rule
            .starts(now, now + Duration::days(3_660), 1)
            .first()
            .map(|t| time_view(*t, tz)),
        _ => None,
    };
    SeriesRow {
        id: s.id.clone(),
        name: s.template.name.clone(),
        rrule: s.rrule.clone(),
        time_zone: s.time_zone.clone(),
        ended: s.ended_at.is_some(),
        next,
    }
}

#[derive(Serialize)]
struct ListView {
    layout: Frame,
    notice: Option<&'static str>,
    active: Vec<Row>,
    upcoming: Vec<Row>,
    past: Vec<Row>,
    series: Vec<SeriesRow>,
    q: String,
    /// `q` for a link's query.
    q_url: String,
    page: u64,
    prev_page: Option<u64>,
    next_page: Option<u64>,
}

pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
) -> HttpResponse {
    let db = state.store.db();
    let page_id = state.store.page_id();
    let q: String = query_param(&req, "q")
        .map(|q| q.chars().take(200).collect())
        .unwrap_or_default();
    let page = query_param(&req, "page")
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(1)
        .clamp(1, 10_000);
    let loaded = async {
        let active =
            incidents::list(db, page_id, Filter::ActiveMaintenance, None, PER_LIST, 0).await?;
        let upcoming = incidents::upcoming_maintenance(db, page_id, PER_LIST).await?;
        let past = incidents::list(
            db,
            page_id,
            Filter::PastMaintenance,
            Some(&q),
            PAST_PAGE + 1,
            (page - 1) * PAST_PAGE,
        )
        .await?;
        let all_series = series::list_recent(db, page_id, PER_LIST).await?;
        Ok::<_, StoreError>((active, upcoming, past, all_series))
    }
    .await;
    let (active, upcoming, mut past, all_series) = match loaded {
        Ok(x) => x,
        Err(e) => return failed(&state, &e, "the maintenance list"),
    };
    let tz = tz_of(&state);
    let now = state.clock.now();
    let more = past.len() as u64 > PAST_PAGE;
    past.truncate(usize::try_from(PAST_PAGE).unwrap_or(20));
    let view = ListView {
        layout: frame(&state, "Maintenance", Some(&who), "maintenance"),
        notice: notice_of(&req),
        active: active.iter().map(|m| row(m, tz)).collect(),
        upcoming: upcoming.iter().map(|m| row(m, tz)).collect(),
        past: past.iter().map(|m| row(m, tz)).collect(),
        series: all_series.iter().map(|s| series_row(s, now, tz)).collect(),
        q_url: url::form_urlencoded::byte_serialize(q.as_bytes()).collect(),
        q,
        page,
        prev_page: (page > 1).then(|| page - 1),
        next_page: more.then_some(page + 1),
    };
    render(&state, StatusCode::OK, "admin/maintenance_list", &view)
}

// ---------------------------------------------------------------------------------
// Scheduling.

/// The schedule form as posted.
struct Draft {
    template_id: Option<String>,
    name: Option<String>,
    body: Option<String>,
    components: BTreeMap<String, ComponentStatus>,
    starts: String,
    ends: String,
    auto_start: bool,
    auto_complete: bool,
    notify_start: bool,
    notify_end: bool,
    remind: bool,
    reminders: String,
    repeat: String,
    rrule: String,
    notify: bool,
}

impl Draft {
    fn blank() -> Draft {
        Draft {
            template_id: None,
            name: None,
            body: None,
            components: BTreeMap::new(),
            starts: String::new(),
            ends: String::new(),
            auto_start: true,
            auto_complete: true,
            notify_start: false,
            notify_end: false,
            remind: true,
            reminders: reminders_text(&plan::DEFAULT_REMINDERS),
            repeat: "none".to_owned(),
            rrule: String::new(),
            notify: true,
        }
    }

    fn read(f: &Form) -> Draft {
        Draft {
            template_id: f.text("template_id"),
            name: f.text("name"),
            body: f.text("body"),
            components: ticked_with(f, ComponentStatus::UnderMaintenance),
            starts: f.str("starts").trim().to_owned(),
            ends: f.str("ends").trim().to_owned(),
            auto_start: f.ticked("auto_start"),
            auto_complete: f.ticked("auto_complete"),
            notify_start: f.ticked("notify_start"),
            notify_end: f.ticked("notify_end"),
            remind: f.ticked("remind"),
            reminders: f.str("reminders").trim().to_owned(),
            repeat: f.text("repeat").unwrap_or_else(|| "none".to_owned()),
            rrule: f.str("rrule").trim().to_owned(),
            notify: f.ticked("deliver_notifications"),
        }
    }
}

/// A schedule form checked: the window in UTC (and local to the page), the reminders,
/// and the rule if it recurs.
struct Checked {
    local_start: NaiveDateTime,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reminders: Vec<u32>,
    rrule: Option<String>,
}

const WEEKDAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// The RFC 5545 rule the simple choice stands for (the raw field wins).
fn rule_text(d: &Draft, start: NaiveDateTime) -> Result<Option<String>, String> {
    if !d.rrule.is_empty() {
        return Ok(Some(d.rrule.clone()));
    }
    match d.repeat.as_str() {
        "none" | "" => Ok(None),
        "daily" => Ok(Some("FREQ=DAILY".to_owned())),
        "weekly" => {
            let day = WEEKDAYS
                .get(start.weekday().num_days_from_monday() as usize)
                .copied()
                .unwrap_or("MO");
            Ok(Some(format!("FREQ=WEEKLY;BYDAY={day}")))
        }
        "monthly" => Ok(Some(format!("FREQ=MONTHLY;BYMONTHDAY={}", start.day()))),
        other => Err(format!("'{other}' is not a recurrence this form offers.")),
    }
}

fn check(d: &Draft, tz: Tz, now: DateTime<Utc>) -> Result<Checked, Errors> {
    let mut errors = Errors::new();
    let start = local_time("starts", &d.starts, tz, now)
        .map_err(|m| errors.insert("starts", m))
        .ok();
    let end = local_time("ends", &d.ends, tz, now)
        .map_err(|m| errors.insert("ends", m))
        .ok();
    let reminders = read_reminders(&d.reminders)
        .map_err(|m| errors.insert("reminders", m))
        .ok();
    let rrule = match start {
        Some((local, _)) => rule_text(d, local)
            .map_err(|m| errors.insert("rrule", m))
            .ok()
            .flatten(),
        None => None,
    };
    if let (Some((_, s)), Some((_, e))) = (start, end) {
        // The domain's rule (`check_schedule`), said next to the field.
        if e < s {
            errors.insert(
                "ends",
                format!(
                    "The end ({}) must be after the start ({}).",
                    time_view(e, tz).local,
                    time_view(s, tz).local
                ),
            );
        }
    }
    if d.name.is_none() && d.template_id.is_none() {
        errors.insert(
            "name",
            "Give the maintenance a name (or pick a template).".to_owned(),
        );
    }
    match (start, end, reminders) {
        (Some((local_start, start)), Some((_, end)), Some(reminders)) if errors.is_empty() => {
            Ok(Checked {
                local_start,
                start,
                end,
                reminders,
                rrule,
            })
        }
        _ => Err(errors),
    }
}

impl Checked {
    fn body(&self, d: &Draft) -> IncidentBody {
        IncidentBody {
            template_id: d.template_id.clone(),
            name: d.name.clone(),
            body: d.body.clone(),
            components: (!d.components.is_empty()).then(|| d.components.clone()),
            deliver_notifications: Some(d.notify),
            scheduled_for: Some(self.start),
            scheduled_until: Some(self.end),
            scheduled_remind_prior: Some(d.remind),
            scheduled_auto_in_progress: Some(d.auto_start),
            scheduled_auto_completed: Some(d.auto_complete),
            auto_transition_deliver_notifications_at_start: Some(d.notify_start),
            auto_transition_deliver_notifications_at_end: Some(d.notify_end),
            scheduled_reminders: (!self.reminders.is_empty()).then(|| self.reminders.clone()),
            ..IncidentBody::default()
        }
    }

    /// The series' body, from the incident body with its template filled in.
    fn series_body(&self, b: &IncidentBody, rrule: &str, tz: Tz) -> SeriesBody {
        let minutes = (self.end - self.start).num_minutes();
        SeriesBody {
            name: b.name.clone(),
            body: b.body.clone(),
            rrule: Some(rrule.to_owned()),
            starts_at_local: Some(self.local_start.format("%Y-%m-%dT%H:%M").to_string()),
            time_zone: Some(tz.name().to_owned()),
            duration_minutes: Some(u32::try_from(minutes).unwrap_or(u32::MAX)),
            components: b.components.clone().or_else(|| {
                b.component_ids.as_ref().map(|ids| {
                    ids.iter()
                        .map(|id| (id.clone(), ComponentStatus::UnderMaintenance))
                        .collect()
                })
            }),
            scheduled_remind_prior: b.scheduled_remind_prior,
            scheduled_auto_in_progress: b.scheduled_auto_in_progress,
            scheduled_auto_completed: b.scheduled_auto_completed,
            auto_transition_deliver_notifications_at_start: b
                .auto_transition_deliver_notifications_at_start,
            auto_transition_deliver_notifications_at_end: b
                .auto_transition_deliver_notifications_at_end,
            scheduled_reminders: b.scheduled_reminders.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct TemplateOpt {
    id: String,
    name: String,
    selected: bool,
}

#[derive(Serialize)]
struct NewView {
    layout: Frame,
    tz: String,
    templates: Vec<TemplateOpt>,
    name: String,
    body: String,
    groups: Vec<PickGroup>,
    starts: String,
    ends: String,
    auto_start: bool,
    auto_complete: bool,
    notify_start: bool,
    notify_end: bool,
    remind: bool,
    reminders: String,
    repeats: Vec<Opt>,
    rrule: String,
    notify: bool,
    preview: Option<Preview>,
    errors: serde_json::Value,
    error_list: Vec<ErrorView>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Repeat {
    None,
    Daily,
    Weekly,
    Monthly,
}

const REPEATS: [Repeat; 4] = [Repeat::None, Repeat::Daily, Repeat::Weekly, Repeat::Monthly];

fn repeat_text(r: Repeat) -> (&'static str, &'static str) {
    match r {
        Repeat::None => ("none", "Does not repeat"),
        Repeat::Daily => ("daily", "Every day"),
        Repeat::Weekly => ("weekly", "Every week, on the start's weekday"),
        Repeat::Monthly => ("monthly", "Every month, on the start's day of the month"),
    }
}

async fn new_page(
    state: &AppState,
    who: &Signed,
    status: StatusCode,
    d: &Draft,
    preview: Option<Preview>,
    errors: Errors,
) -> HttpResponse {
    let db = state.store.db();
    let page = state.store.page_id();
    let loaded = async {
        let all = components::list(db, page).await?;
        let templates = crate::store::templates::list(db, page, 500, 0).await?;
        Ok::<_, StoreError>((all, templates))
    }
    .await;
    let (all, templates) = match loaded {
        Ok(x) => x,
        Err(e) => return failed(state, &e, "the schedule form"),
    };
    let chosen = REPEATS
        .iter()
        .copied()
        .find(|r| repeat_text(*r).0 == d.repeat);
    let view = NewView {
        layout: frame(state, "Schedule maintenance", Some(who), "maintenance"),
        tz: tz_of(state).name().to_owned(),
        templates: templates
            .iter()
            .filter(|t| crate::store::templates::status(t).is_some_and(|s| s.is_maintenance()))
            .map(|t| TemplateOpt {
                id: t.id.clone(),
                name: t.name.clone(),
                selected: d.template_id.as_deref() == Some(t.id.as_str()),
            })
            .collect(),
        name: d.name.clone().unwrap_or_default(),
        body: d.body.clone().unwrap_or_default(),
        groups: picker_with(&all, &d.components, ComponentStatus::UnderMaintenance),
        starts: d.starts.clone(),
        ends: d.ends.clone(),
        auto_start: d.auto_start,
        auto_complete: d.auto_complete,
        notify_start: d.notify_start,
        notify_end: d.notify_end,
        remind: d.remind,
        reminders: d.reminders.clone(),
        repeats: options(&REPEATS, Some(chosen.unwrap_or(Repeat::None)), repeat_text),
        rrule: d.rrule.clone(),
        notify: d.notify,
        preview,
        error_list: error_list(&errors),
        errors: field_errors(&errors),
    };
    render(state, status, "admin/maintenance_new", &view)
}

pub async fn new_form(state: web::Data<AppState>, Viewing(who): Viewing) -> HttpResponse {
    new_page(
        &state,
        &who,
        StatusCode::OK,
        &Draft::blank(),
        None,
        Errors::new(),
    )
    .await
}

/// What a recurring schedule would make: the first occurrence's preview and the next
/// starts.
async fn series_preview(state: &AppState, sb: SeriesBody, tz: Tz) -> Result<Preview, Errors> {
    let now = state.clock.now();
    let c = series_changes(sb, None);
    let rule = Rule::new(
        c.rrule.as_deref().unwrap_or_default(),
        local_start(
            "starts_at_local",
            c.starts_at_local.as_deref().unwrap_or_default(),
        )
        .map_err(|e| api_errors(&ApiError::from(StoreError::Domain(e)), "ends"))?,
        c.time_zone.as_deref().unwrap_or("Etc/UTC"),
        c.duration_minutes.unwrap_or(60),
    )
    .map_err(|e| api_errors(&ApiError::from(StoreError::Domain(e)), "ends"))?;
    let starts = rule.starts(now, now + Duration::days(3_660), NEXT_STARTS);
    let Some(first) = starts.first().copied() else {
        return Err(one_error(
            "rrule",
            "This rule gives no occurrence from now on: check its COUNT or UNTIL.",
        ));
    };
    let template = c.template.unwrap_or_default();
    let out = incidents::preview_create(
        state.store.db(),
        state.store.page_id(),
        template.occurrence(first, rule.duration),
        now,
    )
    .await
    .map_err(|e| api_errors(&ApiError::from(e), "ends"))?;
    let mut pv = preview_of(state, &out, None, tz)
        .await
        .map_err(|e| api_errors(&e, "ends"))?;
    pv.occurrences = starts
        .iter()
        .map(|s| plan::window(*s, Some(*s + rule.duration), tz))
        .collect();
    Ok(pv)
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn schedule(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    let mut d = Draft::read(&p.form);
    let tz = tz_of(&state);
    let now = state.clock.now();
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let c = match check(&d, tz, now) {
        Ok(c) => c,
        Err(errors) => return new_page(&state, &p.who, unprocessable, &d, None, errors).await,
    };
    let save = p.form.str("action") == "schedule";
    let filled = match templated(&state, c.body(&d), None).await {
        Ok(b) => b,
        Err(e) => {
            let errors = api_errors(&e, "ends");
            return new_page(&state, &p.who, unprocessable, &d, None, errors).await;
        }
    };
    // The form comes back with the template's text in place.
    d.name = filled.name.clone().or(d.name);
    d.body = filled.body.clone().or(d.body);
    if let Some(rrule) = c.rrule.clone() {
        let sb = c.series_body(&filled, &rrule, tz);
        if !save {
            return match series_preview(&state, sb, tz).await {
                Ok(pv) => {
                    new_page(&state, &p.who, StatusCode::OK, &d, Some(pv), Errors::new()).await
                }
                Err(errors) => new_page(&state, &p.who, unprocessable, &d, None, errors).await,
            };
        }
        let sc = series_changes(sb, None);
        let made = commit(&state, &p.who.actor, async |w| series::create(w, sc).await).await;
        return match made {
            Ok((s, shown)) => {
                shown.wait(&state).await;
                see_other(format!(
                    "{}/admin/maintenance/series/{}?done=series",
                    state.base, s.id
                ))
            }
            Err(e) => {
                let errors = api_errors(&e, "ends");
                new_page(&state, &p.who, unprocessable, &d, None, errors).await
            }
        };
    }
    let changes = match filled.into_changes() {
        Ok(c) => c,
        Err(e) => {
            let errors = api_errors(&e, "ends");
            return new_page(&state, &p.who, unprocessable, &d, None, errors).await;
        }
    };
    if !save {
        let previewed = async {
            let out =
                incidents::preview_create(state.store.db(), state.store.page_id(), changes, now)
                    .await?;
            preview_of(&state, &out, None, tz).await
        }
        .await;
        return match previewed {
            Ok(pv) => new_page(&state, &p.who, StatusCode::OK, &d, Some(pv), Errors::new()).await,
            Err(e) => {
                let errors = api_errors(&e, "ends");
                new_page(&state, &p.who, unprocessable, &d, None, errors).await
            }
        };
    }
    let created = commit(&state, &p.who.actor, async |w| {
        incidents::create(w, changes).await
    })
    .await;
    match created {
        Ok((out, shown)) => {
            shown.wait(&state).await;
            see_other(format!(
                "{}/admin/maintenance/{}?done=scheduled",
                state.base, out.incident.id
            ))
        }
        Err(e) => {
            let errors = api_errors(&e, "ends");
            new_page(&state, &p.who, unprocessable, &d, None, errors).await
        }
    }
}

// ---------------------------------------------------------------------------------
// One maintenance.

#[derive(Debug, Serialize)]
struct UpdateRow {
    status_label: &'static str,
    at: TimeView,
    body_html: String,
    notified: bool,
}

/// What the forms of the page say, when one comes back.
#[derive(Default)]
struct Shown {
    starts: Option<String>,
    ends: Option<String>,
    reminders: Option<String>,
    remind: Option<bool>,
    body: Option<String>,
    status: Option<IncidentStatus>,
}

#[derive(Serialize)]
struct OneView {
    layout: Frame,
    tz: String,
    id: String,
    name: String,
    status: &'static str,
    status_label: &'static str,
    window: String,
    starts_at: Option<TimeView>,
    ends_at: Option<TimeView>,
    auto_start: bool,
    auto_complete: bool,
    notify_start: bool,
    notify_end: bool,
    remind: bool,
    reminders: Vec<ReminderView>,
    sequence: u32,
    series_id: Option<String>,
    public_url: String,
    waiting: bool,
    running: bool,
    live: bool,
    updates: Vec<UpdateRow>,
    deliveries: Vec<DeliveryCount>,
    statuses: Vec<Opt>,
    form_starts: String,
    form_ends: String,
    form_reminders: String,
    form_remind: bool,
    form_body: String,
    notice: Option<String>,
    errors: serde_json::Value,
    error_list: Vec<ErrorView>,
    preview: Option<Preview>,
}

struct Extra {
    status: StatusCode,
    shown: Shown,
    notice: Option<String>,
    errors: Errors,
    preview: Option<Preview>,
}

impl Extra {
    fn ok() -> Extra {
        Extra {
            status: StatusCode::OK,
            shown: Shown::default(),
            notice: None,
            errors: Errors::new(),
            preview: None,
        }
    }

    fn refused(shown: Shown, errors: Errors) -> Extra {
        Extra {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            shown,
            notice: None,
            errors,
            preview: None,
        }
    }
}

async fn one_page(state: &AppState, who: &Signed, id: &IncidentId, x: Extra) -> HttpResponse {
    let db = state.store.db();
    let loaded = async {
        let m = incidents::get(db, id).await?;
        let counts = crate::store::deliveries::counts_for_incident(db, id).await?;
        Ok::<_, StoreError>((m, counts))
    }
    .await;
    let (m, counts) = match loaded {
        Ok(x) => x,
        Err(StoreError::NotFound { .. }) => {
            return pages::not_found(state, Some(who), "maintenance");
        }
        Err(e) => return failed(state, &e, "the maintenance page"),
    };
    if m.scheduled_for.is_none() {
        // An incident: its own page.
        return see_other(format!("{}/admin/incidents/{id}", state.base));
    }
    let tz = tz_of(state);
    let md = state.snapshots.markdown();
    let waiting = m.status == IncidentStatus::Scheduled;
    let running = matches!(
        m.status,
        IncidentStatus::InProgress | IncidentStatus::Verifying
    );
    let s = x.shown;
    let view = OneView {
        layout: frame(state, &m.name, Some(who), "maintenance"),
        tz: tz.name().to_owned(),
        id: m.id.to_string(),
        name: m.name.clone(),
        status: m.status.as_str(),
        status_label: m.status.label(),
        window: window_of(&m, tz),
        starts_at: m.scheduled_for.map(|t| time_view(t, tz)),
        ends_at: m.scheduled_until.map(|t| time_view(t, tz)),
        auto_start: m.scheduled_auto_in_progress,
        auto_complete: m.scheduled_auto_completed,
        notify_start: m.plan.notify_at_start,
        notify_end: m.plan.notify_at_end,
        remind: m.scheduled_remind_prior,
        reminders: if waiting {
            reminder_views(&m, tz)
        } else {
            Vec::new()
        },
        sequence: m.plan.sequence,
        series_id: m
            .metadata
            .get("herald_series_id")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        public_url: format!("{}/incidents/{}", state.base, m.id),
        waiting,
        running,
        live: waiting || running,
        updates: m
            .updates
            .iter()
            .map(|u| UpdateRow {
                status_label: u.status.label(),
                at: time_view(u.display_at, tz),
                body_html: md.html(&u.body).to_string(),
                notified: u.deliver_notifications,
            })
            .collect(),
        deliveries: delivery_counts(&counts),
        statuses: options(&UPDATE_STATUSES, Some(s.status.unwrap_or(m.status)), |s| {
            (s.as_str(), s.label())
        }),
        form_starts: s.starts.unwrap_or_else(|| {
            m.scheduled_for
                .map(|t| local_value(t, tz))
                .unwrap_or_default()
        }),
        form_ends: s.ends.unwrap_or_else(|| {
            m.scheduled_until
                .map(|t| local_value(t, tz))
                .unwrap_or_default()
        }),
        form_reminders: s
            .reminders
            .unwrap_or_else(|| reminders_text(&m.plan.reminders)),
        form_remind: s.remind.unwrap_or(m.scheduled_remind_prior),
        form_body: s.body.unwrap_or_default(),
        notice: x.notice,
        error_list: error_list(&x.errors),
        errors: field_errors(&x.errors),
        preview: x.preview,
    };
    render(state, x.status, "admin/maintenance", &view)
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
    path: web::Path<String>,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    let mut x = Extra::ok();
    x.notice = notice_of(&req).map(str::to_owned);
    one_page(&state, &who, &id, x).await
}

/// Applies `b` as `PATCH .../incidents/{id}` does, then shows the page with `done`.
async fn apply(
    state: &AppState,
    p: &Posted,
    id: &IncidentId,
    b: IncidentBody,
    done: &str,
    shown: Shown,
) -> HttpResponse {
    let applied = async {
        let c = Command::Change(templated(state, b, None).await?.into_changes()?);
        commit(state, &p.who.actor, async |w| {
            incidents::apply(w, id, c).await
        })
        .await
    }
    .await;
    match applied {
        Ok((_, s)) => {
            s.wait(state).await;
            see_other(format!("{}/admin/maintenance/{id}?done={done}", state.base))
        }
        Err(ApiError::NotFound(_)) => pages::not_found(state, Some(&p.who), "maintenance"),
        Err(e) => {
            let errors = api_errors(&e, "ends");
            one_page(state, &p.who, id, Extra::refused(shown, errors)).await
        }
    }
}

/// Previews `b` on the maintenance, as `POST .../incidents/{id}/preview` does.
async fn preview_change(
    state: &AppState,
    p: &Posted,
    id: &IncidentId,
    b: IncidentBody,
    notice: Option<String>,
    shown: Shown,
) -> HttpResponse {
    let tz = tz_of(state);
    let previewed = async {
        let c = Command::Change(templated(state, b, None).await?.into_changes()?);
        let out = incidents::preview_apply(
            state.store.db(),
            state.store.page_id(),
            id,
            c,
            state.clock.now(),
        )
        .await?;
        preview_of(state, &out, notice, tz).await
    }
    .await;
    let x = match previewed {
        Ok(pv) => Extra {
            status: StatusCode::OK,
            shown,
            notice: None,
            errors: Errors::new(),
            preview: Some(pv),
        },
        Err(ApiError::NotFound(_)) => return pages::not_found(state, Some(&p.who), "maintenance"),
        Err(e) => Extra::refused(shown, api_errors(&e, "ends")),
    };
    one_page(state, &p.who, id, x).await
}

async fn current(state: &AppState, p: &Posted, id: &IncidentId) -> Result<Incident, HttpResponse> {
    match incidents::get(state.store.db(), id).await {
        Ok(m) if m.scheduled_for.is_some() => Ok(m),
        Ok(_) => Err(see_other(format!("{}/admin/incidents/{id}", state.base))),
        Err(StoreError::NotFound { .. }) => {
            Err(pages::not_found(state, Some(&p.who), "maintenance"))
        }
        Err(e) => Err(failed(state, &e, "a maintenance")),
    }
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id, incident))]
pub async fn reschedule(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    tracing::Span::current().record("incident", id.as_str());
    let m = match current(&state, &p, &id).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let tz = tz_of(&state);
    let now = state.clock.now();
    let shown = Shown {
        starts: Some(p.form.str("starts").trim().to_owned()),
        ends: Some(p.form.str("ends").trim().to_owned()),
        reminders: Some(p.form.str("reminders").trim().to_owned()),
        remind: Some(p.form.ticked("remind")),
        ..Shown::default()
    };
    let mut errors = Errors::new();
    let start = local_time("starts", p.form.str("starts"), tz, now)
        .map_err(|e| errors.insert("starts", e))
        .ok();
    let end = local_time("ends", p.form.str("ends"), tz, now)
        .map_err(|e| errors.insert("ends", e))
        .ok();
    let reminders = read_reminders(p.form.str("reminders"))
        .map_err(|e| errors.insert("reminders", e))
        .ok();
    if let (Some((_, s)), Some((_, e))) = (start, end) {
        // The domain's rule (`check_schedule`), said next to the field.
        if e < s {
            errors.insert(
                "ends",
                format!(
                    "The end ({}) must be after the start ({}).",
                    time_view(e, tz).local,
                    time_view(s, tz).local
                ),
            );
        }
    }
    let (Some((_, start)), Some((_, end)), Some(reminders), true) =
        (start, end, reminders, errors.is_empty())
    else {
        return one_page(&state, &p.who, &id, Extra::refused(shown, errors)).await;
    };
    let b = IncidentBody {
        scheduled_for: Some(start),
        scheduled_until: Some(end),
        scheduled_remind_prior: Some(p.form.ticked("remind")),
        // Empty clears them (`None` would keep the old ones).
        scheduled_reminders: Some(reminders),
        deliver_notifications: Some(p.form.ticked("deliver_notifications")),
        ..IncidentBody::default()
    };
    if p.form.str("action") == "reschedule" {
        return apply(&state, &p, &id, b, "rescheduled", shown).await;
    }
    let moved = (m.scheduled_for != Some(start) || m.scheduled_until != Some(end))
        .then(|| {
            m.scheduled_for
                .map(|from| plan::moved((from, m.scheduled_until), (start, Some(end)), tz))
        })
        .flatten();
    preview_change(&state, &p, &id, b, moved, shown).await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id, incident))]
pub async fn update(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    tracing::Span::current().record("incident", id.as_str());
    if let Err(r) = current(&state, &p, &id).await {
        return r;
    }
    let status = match p.form.text("status") {
        None => None,
        Some(s) => match s.parse::<IncidentStatus>() {
            Ok(s) if UPDATE_STATUSES.contains(&s) => Some(s),
            _ => {
                let errors = one_error("status", format!("'{s}' is not a status to post here."));
                return one_page(
                    &state,
                    &p.who,
                    &id,
                    Extra::refused(Shown::default(), errors),
                )
                .await;
            }
        },
    };
    let shown = Shown {
        body: p.form.text("body"),
        status,
        ..Shown::default()
    };
    let b = IncidentBody {
        status,
        body: p.form.text("body"),
        deliver_notifications: Some(p.form.ticked("deliver_notifications")),
        ..IncidentBody::default()
    };
    if p.form.str("action") == "update" {
        if b.body.is_none() {
            let errors = one_error("body", "Write the update's message.");
            return one_page(&state, &p.who, &id, Extra::refused(shown, errors)).await;
        }
        return apply(&state, &p, &id, b, "updated", shown).await;
    }
    preview_change(&state, &p, &id, b, None, shown).await
}

/// Start now, complete now, cancel: each acts only when `action` is its verb.
async fn transition(
    state: &AppState,
    p: &Posted,
    path: web::Path<String>,
    verb: &'static str,
    to: IncidentStatus,
    done: &str,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    tracing::Span::current().record("incident", id.as_str());
    if let Err(r) = current(state, p, &id).await {
        return r;
    }
    if p.form.str("action") != verb {
        let errors = one_error(
            verb,
            format!("Nothing was changed: press the {verb} button to {verb} this maintenance."),
        );
        return one_page(state, &p.who, &id, Extra::refused(Shown::default(), errors)).await;
    }
    let b = IncidentBody {
        status: Some(to),
        body: p.form.text("body"),
        deliver_notifications: Some(p.form.ticked("deliver_notifications")),
        ..IncidentBody::default()
    };
    apply(state, p, &id, b, done, Shown::default()).await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id, incident))]
pub async fn start(state: web::Data<AppState>, p: Posted, path: web::Path<String>) -> HttpResponse {
    transition(
        &state,
        &p,
        path,
        "start",
        IncidentStatus::InProgress,
        "started",
    )
    .await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id, incident))]
pub async fn complete(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    transition(
        &state,
        &p,
        path,
        "complete",
        IncidentStatus::Completed,
        "completed",
    )
    .await
}

/// Cancels as the API does: an update with the status `cancelled` (the calendar shows
/// it cancelled, followers are told if asked).
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, incident))]
pub async fn cancel(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    transition(
        &state,
        &p,
        path,
        "cancel",
        IncidentStatus::Cancelled,
        "cancelled",
    )
    .await
}

// ---------------------------------------------------------------------------------
// A series.

#[derive(Debug, Serialize)]
struct OccurrenceRow {
    id: String,
    name: String,
    window: String,
    status_label: &'static str,
}

#[derive(Serialize)]
struct SeriesView {
    layout: Frame,
    id: String,
    name: String,
    rrule: String,
    starts_at_local: String,
    time_zone: String,
    duration_minutes: u32,
    ended: Option<TimeView>,
    next: Vec<String>,
    occurrences: Vec<OccurrenceRow>,
    more_occurrences: usize,
    form_name: String,
    form_rrule: String,
    form_starts: String,
    form_duration: String,
    notice: Option<String>,
    errors: serde_json::Value,
    error_list: Vec<ErrorView>,
    preview_next: Option<Vec<String>>,
}

struct SeriesForm {
    name: Option<String>,
    rrule: String,
    starts: String,
    duration: String,
}

struct SeriesExtra {
    status: StatusCode,
    form: Option<SeriesForm>,
    notice: Option<String>,
    errors: Errors,
    preview_next: Option<Vec<String>>,
}

impl SeriesExtra {
    fn ok() -> SeriesExtra {
        SeriesExtra {
            status: StatusCode::OK,
            form: None,
            notice: None,
            errors: Errors::new(),
            preview_next: None,
        }
    }
}

async fn series_page(state: &AppState, who: &Signed, id: &str, x: SeriesExtra) -> HttpResponse {
    let db = state.store.db();
    let loaded = async {
        let s = series::get(db, id).await?;
        let (made, all) = series::recent_occurrences(db, id, SHOWN_OCCURRENCES as u64).await?;
        let skip = usize::try_from(all)
            .unwrap_or(usize::MAX)
            .saturating_sub(made.len());
        let ids: Vec<IncidentId> = made.iter().map(|(_, i)| i.clone()).collect();
        let mut ms = incidents::get_many(db, &ids).await?;
        ms.sort_by_key(|m| std::cmp::Reverse(m.scheduled_for));
        Ok::<_, StoreError>((s, ms, skip))
    }
    .await;
    let (s, ms, skip) = match loaded {
        Ok(x) => x,
        Err(StoreError::NotFound { .. }) => {
            return pages::not_found(state, Some(who), "recurring maintenance");
        }
        Err(e) => return failed(state, &e, "the series page"),
    };
    let tz = tz_of(state);
    let now = state.clock.now();
    let next = match (s.ended_at, s.rule()) {
        (None, Ok(rule)) => rule
            .starts(now, now + Duration::days(3_660), NEXT_STARTS)
            .into_iter()
            .map(|t| plan::window(t, Some(t + rule.duration), tz))
            .collect(),
        _ => Vec::new(),
    };
    let f = x.form;
    let view = SeriesView {
        layout: frame(state, &s.template.name, Some(who), "maintenance"),
        id: s.id.clone(),
        name: s.template.name.clone(),
        rrule: s.rrule.clone(),
        starts_at_local: s.starts_at_local.format("%Y-%m-%d %H:%M").to_string(),
        time_zone: s.time_zone.clone(),
        duration_minutes: s.duration_minutes,
        ended: s.ended_at.map(|t| time_view(t, tz)),
        next,
        occurrences: ms
            .iter()
            .map(|m| OccurrenceRow {
                id: m.id.to_string(),
                name: m.name.clone(),
                window: window_of(m, tz),
                status_label: m.status.label(),
            })
            .collect(),
        more_occurrences: skip,
        form_name: f
            .as_ref()
            .map_or_else(|| Some(s.template.name.clone()), |f| f.name.clone())
            .unwrap_or_default(),
        form_rrule: f
            .as_ref()
            .map_or_else(|| s.rrule.clone(), |f| f.rrule.clone()),
        form_starts: f.as_ref().map_or_else(
            || s.starts_at_local.format("%Y-%m-%dT%H:%M").to_string(),
            |f| f.starts.clone(),
        ),
        form_duration: f
            .as_ref()
            .map_or_else(|| s.duration_minutes.to_string(), |f| f.duration.clone()),
        notice: x.notice,
        error_list: error_list(&x.errors),
        errors: field_errors(&x.errors),
        preview_next: x.preview_next,
    };
    render(state, x.status, "admin/series", &view)
}

pub async fn series_view(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
    path: web::Path<String>,
) -> HttpResponse {
    let mut x = SeriesExtra::ok();
    x.notice = notice_of(&req).map(str::to_owned);
    series_page(&state, &who, &path.into_inner(), x).await
}

/// Edits the series' rule, start, length or name (`action=save`; otherwise a preview of
/// the next starts), as `PATCH .../maintenance_series/{id}` does.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, series))]
pub async fn series_edit(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    tracing::Span::current().record("series", id.as_str());
    let current = match series::get(state.store.db(), &id).await {
        Ok(s) => s,
        Err(StoreError::NotFound { .. }) => {
            return pages::not_found(&state, Some(&p.who), "recurring maintenance");
        }
        Err(e) => return failed(&state, &e, "a series"),
    };
    let form = SeriesForm {
        name: p.form.text("name"),
        rrule: p.form.str("rrule").trim().to_owned(),
        starts: p.form.str("starts").trim().to_owned(),
        duration: p.form.str("duration_minutes").trim().to_owned(),
    };
    let refuse = |form: SeriesForm, errors: Errors| SeriesExtra {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        form: Some(form),
        notice: None,
        errors,
        preview_next: None,
    };
    let duration = match form.duration.parse::<u32>() {
        Ok(d) => d,
        Err(_) => {
            let e = one_error("duration", "The length is whole minutes, like 120.");
            return series_page(&state, &p.who, &id, refuse(form, e)).await;
        }
    };
    let zone: Tz = current.time_zone.parse().unwrap_or(Tz::UTC);
    if let Err(m) = local_time("starts", &form.starts, zone, state.clock.now()) {
        return series_page(&state, &p.who, &id, refuse(form, one_error("starts", m))).await;
    }
    let b = SeriesBody {
        name: form.name.clone(),
        rrule: Some(form.rrule.clone()),
        starts_at_local: Some(form.starts.clone()),
        duration_minutes: Some(duration),
        ..SeriesBody::default()
    };
    let c = series_changes(b, Some(&current));
    if p.form.str("action") == "save" {
        let saved = commit(&state, &p.who.actor, async |w| {
            series::update(w, &id, c).await
        })
        .await;
        return match saved {
            Ok((_, shown)) => {
                shown.wait(&state).await;
                see_other(format!(
                    "{}/admin/maintenance/series/{id}?done=series",
                    state.base
                ))
            }
            Err(e) => {
                let errors = api_errors(&e, "duration");
                series_page(&state, &p.who, &id, refuse(form, errors)).await
            }
        };
    }
    let tz = tz_of(&state);
    let now = state.clock.now();
    let rule = local_start("starts_at_local", &form.starts)
        .and_then(|start| Rule::new(&form.rrule, start, &current.time_zone, duration));
    let x = match rule {
        Ok(rule) => {
            let next: Vec<String> = rule
                .starts(now, now + Duration::days(3_660), NEXT_STARTS)
                .into_iter()
                .map(|t| plan::window(t, Some(t + rule.duration), tz))
                .collect();
            if next.is_empty() {
                refuse(
                    form,
                    one_error(
                        "rrule",
                        "This rule gives no occurrence from now on: check its COUNT or UNTIL.",
                    ),
                )
            } else {
                SeriesExtra {
                    status: StatusCode::OK,
                    form: Some(form),
                    notice: None,
                    errors: Errors::new(),
                    preview_next: Some(next),
                }
            }
        }
        Err(e) => {
            let errors = api_errors(&ApiError::from(StoreError::Domain(e)), "duration");
            refuse(form, errors)
        }
    };
    series_page(&state, &p.who, &id, x).await
}

/// Ends the series (`action=delete`), as `DELETE .../maintenance_series/{id}` does:
/// occurrences not yet started are cancelled.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, series))]
pub async fn series_end(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    tracing::Span::current().record("series", id.as_str());
    if p.form.str("action") != "delete" {
        let x = SeriesExtra {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors: one_error(
                "end",
                "Nothing was changed: press \"End the series\" to end it.",
            ),
            ..SeriesExtra::ok()
        };
        return series_page(&state, &p.who, &id, x).await;
    }
    let ended = commit(&state, &p.who.actor, async |w| series::end(w, &id).await).await;
    match ended {
        Ok((_, shown)) => {
            shown.wait(&state).await;
            see_other(format!(
                "{}/admin/maintenance/series/{id}?done=ended",
                state.base
            ))
        }
        Err(ApiError::NotFound(_)) => {
            pages::not_found(&state, Some(&p.who), "recurring maintenance")
        }
        Err(e) => {
            let x = SeriesExtra {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                errors: one_error("end", said(&e)),
                ..SeriesExtra::ok()
            };
            series_page(&state, &p.who, &id, x).await
        }
    }
}
