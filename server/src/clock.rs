//! The one source of the current time. The server runs on the system clock; tests run
//! on a manual clock they move, so durations, promises, reminders, retries and
//! maintenance windows are tested without sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;

#[derive(Clone)]
pub struct Clock(Arc<Inner>);

enum Inner {
    System,
    Manual {
        now: Mutex<DateTime<Utc>>,
        moved: watch::Sender<DateTime<Utc>>,
    },
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Inner::System => f.write_str("Clock::System"),
            Inner::Manual { .. } => write!(f, "Clock::Manual({})", self.now()),
        }
    }
}

/// How long a sleeper on the system clock waits before looking at the time again, so a
/// wall-clock jump (NTP, a suspended VM) delays a due time by at most this much.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

impl Clock {
    pub fn system() -> Clock {
        Clock(Arc::new(Inner::System))
    }

    /// A clock that stands at `start` until moved.
    pub fn manual(start: DateTime<Utc>) -> Clock {
        let (moved, _) = watch::channel(start);
        Clock(Arc::new(Inner::Manual {
            now: Mutex::new(start),
            moved,
        }))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &*self.0 {
            Inner::System => Utc::now(),
            Inner::Manual { now, .. } => *now.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    pub fn is_manual(&self) -> bool {
        matches!(&*self.0, Inner::Manual { .. })
    }

    /// Moves a manual clock forward (a system clock cannot be moved).
    pub fn advance(&self, by: Duration) {
        if let Inner::Manual { now, moved } = &*self.0 {
            let mut t = now.lock().unwrap_or_else(|e| e.into_inner());
            *t += by;
            moved.send_replace(*t);
        }
    }

    /// Sets a manual clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Inner::Manual { now, moved } = &*self.0 {
            *now.lock().unwrap_or_else(|e| e.into_inner()) = at;
            moved.send_replace(at);
        }
    }

    /// Waits until the clock reads `at` or later.
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        match &*self.0 {
            Inner::System => loop {
                let left = at - Utc::now();
                let Ok(left) = left.to_std() else { return };
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(RECHECK)).await;
            },
            Inner::Manual { moved, .. } => {
                let mut rx = moved.subscribe();
                // `wait_for` looks at the current value first, then at every move.
                let _ = rx.wait_for(|now| *now >= at).await;
            }
        }
    }

    /// Waits `d` of this clock's time.
    pub async fn sleep(&self, d: Duration) {
        let at = self
            .now()
            .checked_add_signed(d)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_when_moved() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let clock = Clock::manual(t0);
        let c = clock.clone();
        let sleeper = tokio::spawn(async move {
            c.sleep_until(t0 + Duration::minutes(5)).await;
            c.now()
        });
        tokio::task::yield_now().await;
        clock.advance(Duration::minutes(4));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::minutes(2));
        let woke = sleeper.await.unwrap_or_default();
        assert_eq!(woke, t0 + Duration::minutes(6));
        // A time already passed returns at once.
        clock.sleep_until(t0).await;
    }
}
