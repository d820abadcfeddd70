//! The view models templates see: one consistent set of records ([`Data`]) in, plain
//! serialisable structs out. The builders are in `pages`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    statuspage::{ComponentIndex, PageCtx},
    time::TimeView,
};
use crate::domain::{Component, Incident, IncidentId, Period};
use crate::domain::{ComponentStatus, Impact, PageStatus, page_status};
use crate::store::pages::Page;

/// Everything the public side shows, read in one go.
pub struct Data {
    /// Rendered Markdown, shared by every build and page.
    pub markdown: std::sync::Arc<super::markdown::Cache>,
    pub page: Page,
    pub ctx: PageCtx,
    pub components: Vec<Component>,
    /// The most recent incidents and maintenances, newest first.
    pub recent: Vec<Incident>,
    /// The 50 most recent incidents (no maintenances), for `incidents.json`.
    pub incidents: Vec<Incident>,
    /// The 50 most recent maintenances, for `scheduled-maintenances.json`.
    pub maintenances: Vec<Incident>,
    pub unresolved: Vec<Incident>,
    pub upcoming: Vec<Incident>,
    pub active_maintenance: Vec<Incident>,
    /// How many incidents and maintenances there are in all (for history's last page).
    pub total: u64,
    /// The version of the event log at which each listed incident last changed: what a
    /// page that shows it was made from.
    pub revisions: std::collections::HashMap<crate::domain::IncidentId, i64>,
    /// Impact periods that reach into the uptime window.
    pub periods: Vec<Period>,
    /// The names of the incidents behind them, for the days' summaries.
    pub period_names: std::collections::HashMap<IncidentId, String>,
    pub now: DateTime<Utc>,
    pub version: i64,
    /// The last event readers can see: what `/live.json` says, so private work (a
    /// postmortem draft) does not show as a change.
    pub public_version: i64,
}

impl Data {
    /// How many incidents and maintenances are over (what `/history` lists): all but
    /// those going on or announced.
    pub fn past_total(&self) -> u64 {
        let open = self.unresolved.len() + self.upcoming.len() + self.active_maintenance.len();
        self.total.saturating_sub(open as u64)
    }

    pub fn status(&self) -> PageStatus {
        let index = ComponentIndex::new(&self.components);
        page_status(
            self.components
                .iter()
                .filter(|c| !c.is_group)
                .map(|c| index.status(c)),
            self.unresolved.iter().map(|i| i.impact),
            !self.active_maintenance.is_empty(),
        )
    }
}

pub const UPTIME_DAYS: i64 = 90;
pub const RECENT_DAYS: i64 = 14;

#[derive(Serialize)]
pub struct Layout {
    /// The path every link starts with (`/status`); empty at the root.
    pub base: String,
    pub page_name: String,
    pub page_url: String,
    pub title: String,
    pub description: String,
    pub canonical: String,
    pub time_zone: String,
    pub css_href: String,
    pub js_href: String,
    pub icon_href: String,
    /// When what this document shows last changed (not when it was rendered, nor when
    /// anything else on the page did): a rebuild that changes nothing here yields the
    /// same bytes and the same ETag. The live script compares it with `/live.json`.
    pub updated: TimeView,
}

#[derive(Serialize)]
pub struct Banner {
    /// none, minor, major, critical or maintenance: the banner's colour.
    pub indicator: Impact,
    pub description: String,
}

#[derive(Serialize, Clone, Hash)]
pub struct UpdateView {
    pub id: String,
    pub status: String,
    pub status_label: &'static str,
    pub body_html: String,
    pub at: TimeView,
    pub next_update: Option<TimeView>,
}

#[derive(Serialize, Clone, Hash)]
pub struct AffectedView {
    pub name: String,
    /// The group (pod, region) the component is in, if any.
    pub group: Option<String>,
    pub status: ComponentStatus,
    pub status_label: &'static str,
    /// Once the incident is over: what the component went through during it, in
    /// order ("Major Outage from 03:31 to 04:45"), and its status now.
    pub during: Vec<Spell>,
    pub now: Option<ComponentStatus>,
    pub now_label: Option<&'static str>,
}

/// A time a component spent at one status during an incident.
#[derive(Serialize, Clone, Hash)]
pub struct Spell {
    pub status: ComponentStatus,
    /// "Major Outage from 03:31 to 04:45".
    pub text: String,
}

#[derive(Serialize, Clone, Hash)]
pub struct IncidentCard {
    pub id: String,
    pub url: String,
    pub name: String,
    pub status: String,
    pub status_label: &'static str,
    pub impact: Impact,
    pub is_maintenance: bool,
    pub latest: Option<UpdateView>,
    /// The promised next update, while the incident is open.
    pub next_update: Option<TimeView>,
    pub next_update_overdue: bool,
    pub started: TimeView,
    pub resolved: Option<TimeView>,
    pub duration: Option<String>,
    pub affected: Vec<AffectedView>,
    pub scheduled_for: Option<TimeView>,
    pub scheduled_until: Option<TimeView>,
    /// A maintenance still running after its window: "taking longer than planned".
    pub overrun: bool,
}

#[derive(Serialize, Hash)]
pub struct DayCell {
    pub date: String,
    pub label: String,
    pub status: ComponentStatus,
    /// "No downtime", "32m major outage", ...
    pub summary: String,
    /// The day's uptime: "100%", "97.78%".
    pub uptime: String,
    /// The incidents that affected the component that day.
    pub incidents: Vec<DayIncident>,
    /// The component did not exist yet that day.
    pub no_data: bool,
    /// Something happened: the day is listed in the strip's table of days.
    pub eventful: bool,
    /// A one-letter class for the day's colour and shape (o, d, p, m, u; n for no
    /// data): the 90 bars per component are most of the page's bytes, so their markup
    /// is terse.
    pub code: &'static str,
}

#[derive(Serialize, Hash)]
pub struct DayIncident {
    pub name: String,
    pub url: String,
}

#[derive(Serialize, Hash)]
pub struct UptimeView {
    /// Over the whole strip (90 days), and over the last 60 and 30 days: narrower
    /// screens show fewer days, and the figure beside them covers what they show.
    pub percent: String,
    pub percent_60: String,
    pub percent_30: String,
    pub days: Vec<DayCell>,
    /// How many days were not wholly operational.
    pub eventful_days: usize,
}

/// What `partials/uptime` renders: one component's strip of days.
#[derive(Serialize, Hash)]
pub struct UptimeStrip<'a> {
    /// The component's name, with its group's: "Voice, Prod2 (EU)".
    pub name: &'a str,
    pub uptime_days: i64,
    /// The last day shown (today), `YYYY-MM-DD`.
    pub today: &'a str,
    pub uptime: &'a UptimeView,
}

#[derive(Serialize)]
pub struct ComponentRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: ComponentStatus,
    pub status_label: &'static str,
    pub is_group: bool,
    /// In a group: its name is a level below the group's.
    pub is_child: bool,
    pub children: Vec<ComponentRow>,
    /// The rendered strip of days (`partials/uptime`), for components (not groups).
    pub uptime_html: Option<String>,
}

#[derive(Serialize)]
pub struct DayIncidents {
    pub date: String,
    pub label: String,
    /// Each rendered (`partials/past_incident`).
    pub incidents: Vec<String>,
}

#[derive(Serialize)]
pub struct IndexView {
    pub layout: Layout,
    pub banner: Banner,
    /// Cards, rendered (`partials/incident_card`).
    pub active_incidents: Vec<String>,
    pub maintenances: Vec<String>,
    pub components: Vec<ComponentRow>,
    pub recent_days: Vec<DayIncidents>,
    pub uptime_days: i64,
}

#[derive(Serialize)]
pub struct IncidentPageView {
    pub layout: Layout,
    pub incident: IncidentCard,
    pub updates: Vec<UpdateView>,
    pub postmortem_html: Option<String>,
    pub postmortem_published: Option<TimeView>,
    /// "First update N minutes after impact began", when the page shows it.
    pub first_update_minutes: Option<i64>,
}

#[derive(Serialize)]
pub struct MonthView {
    pub label: String,
    /// Each rendered (`partials/history_item`).
    pub incidents: Vec<String>,
}

#[derive(Serialize)]
pub struct HistoryView {
    pub layout: Layout,
    pub months: Vec<MonthView>,
    pub page: u64,
    pub prev_page: Option<u64>,
    pub next_page: Option<u64>,
}

/// The page that explains the feeds to people who click "Feeds".
#[derive(Serialize)]
pub struct FeedsView {
    pub layout: Layout,
}

#[derive(Serialize)]
pub struct ErrorView {
    pub layout: Layout,
    pub status: u16,
    pub heading: String,
    pub message: String,
}

#[derive(Serialize)]
pub struct FeedEntry {
    pub id: String,
    pub title: String,
    pub url: String,
    pub published: String,
    pub updated: String,
    pub published_rfc822: String,
    /// The updates as HTML (escaped by the template), newest first.
    pub content_html: String,
}

#[derive(Serialize)]
pub struct FeedView {
    pub host: String,
    pub page_name: String,
    pub page_url: String,
    pub updated: String,
    pub updated_rfc822: String,
    pub entries: Vec<FeedEntry>,
}

/// Static file links, fingerprinted so they can be cached for a year.
pub struct StaticLinks {
    pub css: String,
    pub js: String,
    /// The console's stylesheet and script (`/admin` only).
    pub console_css: String,
    pub console_js: String,
    pub icon: String,
}
