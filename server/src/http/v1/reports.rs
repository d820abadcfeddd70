//! Reports (Herald's addition): the communication record of incidents, per incident and
//! in total, from their updates' times and promises.

use actix_web::{HttpResponse, http::Method, web};
use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{View, ok};
use crate::app::AppState;
use crate::domain::{IncidentId, Role::Viewer, communication};
use crate::http::{error::ApiError, routes::RouteTable};
use crate::store::incidents;

/// The most incidents one report covers.
const MAX_INCIDENTS: u64 = 5_000;

pub fn routes(t: &mut RouteTable) {
    t.add(
        Method::GET,
        "/v1/pages/{page_id}/reports/communication",
        Viewer,
        "reports",
        "The communication record of incidents whose impact began in [from, to) (dates in the page's zone; the last 30 days by default): time to first update, gaps between updates, promises kept and missed",
        communication_report,
    )
    .returns::<CommunicationReport>();
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReportQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Day after the last, `YYYY-MM-DD`.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct IncidentRecord {
    pub id: IncidentId,
    pub name: String,
    pub started_at: String,
    pub first_update_minutes: Option<i64>,
    pub gaps_minutes: Vec<i64>,
    pub worst_gap_minutes: Option<i64>,
    pub promises_kept: u32,
    pub promises_missed: u32,
    pub promise_pending: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CommunicationReport {
    pub from: String,
    pub to: String,
    pub incidents: Vec<IncidentRecord>,
    pub total: communication::Totals,
    /// True when more incidents began in the range than one report covers.
    pub truncated: bool,
}

fn day(field: &str, v: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    v.map(|s| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| ApiError::invalid(field, format!("{field} is a date, YYYY-MM-DD")))
    })
    .transpose()
}

pub async fn communication_report(
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let tz = view.ctx.tz;
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let to = day("to", q.to.as_deref())?.unwrap_or(today + chrono::Duration::days(1));
    let from = day("from", q.from.as_deref())?.unwrap_or(to - chrono::Duration::days(30));
    if from >= to {
        return Err(ApiError::invalid("from", "from must be before to"));
    }
    if (to - from).num_days() > 3_660 {
        return Err(ApiError::invalid(
            "from",
            "a report covers at most ten years",
        ));
    }
    let midnight = |d: NaiveDate| -> DateTime<Utc> { crate::render::uptime::midnight(d, tz) };
    let mut list = incidents::started_between(
        state.store.db(),
        state.store.page_id(),
        midnight(from),
        midnight(to),
        MAX_INCIDENTS + 1,
    )
    .await?;
    let truncated = list.len() as u64 > MAX_INCIDENTS;
    list.truncate(usize::try_from(MAX_INCIDENTS).unwrap_or(usize::MAX));
    let mut records = Vec::new();
    let mut docs = Vec::new();
    for i in list.iter().filter(|i| !i.backfilled) {
        let r = communication::record(i, now);
        docs.push(IncidentRecord {
            id: i.id.clone(),
            name: i.name.clone(),
            started_at: view.ctx.ts(i.started_at),
            first_update_minutes: r.first_update_minutes,
            worst_gap_minutes: r.worst_gap(),
            gaps_minutes: r.gaps_minutes.clone(),
            promises_kept: r.promises_kept,
            promises_missed: r.promises_missed,
            promise_pending: r.promise_pending,
        });
        records.push(r);
    }
    Ok(ok(&CommunicationReport {
        from: from.to_string(),
        to: to.to_string(),
        incidents: docs,
        total: communication::totals(&records),
        truncated,
    }))
}
