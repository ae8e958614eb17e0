//! The in-memory notification rows, preferences and e-mail leases.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::ids::NotificationId;
use crate::notification::{
    MailOutcome, MailPreferences, MailStatus, Notification, NotificationKind, NotificationStore,
};
use crate::ports::{Principal, StoreError, StoreResult};
use crate::workspace::Staff;

#[derive(Clone, Default)]
pub(super) struct NotificationState {
    rows: BTreeMap<NotificationId, Notification>,
    leases: HashMap<NotificationId, (String, DateTime<Utc>)>,
    prefs: HashMap<Principal, MailPreferences>,
}

impl NotificationState {
    pub(super) fn queue(&mut self, n: Notification) {
        self.rows.insert(n.id, n);
    }
}

impl MemoryStore {
    /// Every notification queued so far, oldest first (for tests).
    pub fn notifications(&self) -> Vec<Notification> {
        let s = self.state.lock().unwrap();
        s.notifications.rows.values().cloned().collect()
    }
}

#[async_trait]
impl NotificationStore for MemoryStore {
    async fn staff_members(&self) -> StoreResult<Vec<Staff>> {
        let s = self.state.lock().unwrap();
        let mut v: Vec<Staff> = s.staff.values().cloned().collect();
        v.sort_by_key(|x| (x.created_at, x.id));
        Ok(v)
    }

    async fn notification(&self, id: NotificationId) -> StoreResult<Option<Notification>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .notifications
            .rows
            .get(&id)
            .cloned())
    }

    async fn notifications_of(
        &self,
        principal: Principal,
        before: Option<NotificationId>,
        limit: u64,
    ) -> StoreResult<Vec<Notification>> {
        let s = self.state.lock().unwrap();
        Ok(s.notifications
            .rows
            .values()
            .rev()
            .filter(|n| n.to.principal == Some(principal))
            .filter(|n| before.is_none_or(|b| n.id < b))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn unread_count(&self, principal: Principal) -> StoreResult<u64> {
        let s = self.state.lock().unwrap();
        Ok(s.notifications
            .rows
            .values()
            .filter(|n| n.to.principal == Some(principal) && n.read_at.is_none())
            .count() as u64)
    }

    async fn mark_read(
        &self,
        principal: Principal,
        ids: Option<Vec<NotificationId>>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut s = self.state.lock().unwrap();
        let mut changed = 0;
        for n in s.notifications.rows.values_mut() {
            let chosen = ids.as_ref().is_none_or(|ids| ids.contains(&n.id));
            if n.to.principal == Some(principal) && n.read_at.is_none() && chosen {
                n.read_at = Some(at);
                changed += 1;
            }
        }
        Ok(changed)
    }

    async fn preferences(&self, principal: Principal) -> StoreResult<MailPreferences> {
        let s = self.state.lock().unwrap();
        Ok(s.notifications
            .prefs
            .get(&principal)
            .cloned()
            .unwrap_or_default())
    }

    async fn set_preference(
        &self,
        principal: Principal,
        kind: NotificationKind,
        email: bool,
    ) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        let p = s.notifications.prefs.entry(principal).or_default();
        if email {
            p.off.remove(&kind);
        } else {
            p.off.insert(kind);
        }
        Ok(())
    }

    async fn claim_due_mail(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<Notification>> {
        let mut s = self.state.lock().unwrap();
        let st = &mut s.notifications;
        let mut due: Vec<Notification> = st
            .rows
            .values()
            .filter(|n| n.mail_status == MailStatus::Pending && n.next_attempt_at <= now)
            .filter(|n| st.leases.get(&n.id).is_none_or(|(_, until)| *until <= now))
            .cloned()
            .collect();
        due.sort_by_key(|n| (n.next_attempt_at, n.id));
        due.truncate(limit as usize);
        for n in &due {
            st.leases.insert(n.id, (owner.to_owned(), lease_until));
        }
        Ok(due)
    }

    async fn release_mail_leases(&self, owner: &str) -> StoreResult<u64> {
        let mut s = self.state.lock().unwrap();
        let before = s.notifications.leases.len();
        s.notifications.leases.retain(|_, (o, _)| o != owner);
        Ok((before - s.notifications.leases.len()) as u64)
    }

    async fn settle_mail(
        &self,
        id: NotificationId,
        owner: &str,
        outcome: MailOutcome,
        _at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut s = self.state.lock().unwrap();
        let st = &mut s.notifications;
        match st.leases.get(&id) {
            Some((o, _)) if o == owner => {}
            _ => return Err(StoreError::Conflict("notification lease".into())),
        }
        st.leases.remove(&id);
        let n = st
            .rows
            .get_mut(&id)
            .ok_or_else(|| StoreError::Conflict("notification".into()))?;
        n.attempts += u32::from(outcome != MailOutcome::Skipped);
        let finished = match outcome {
            MailOutcome::Sent => Some(MailStatus::Sent),
            MailOutcome::Skipped => Some(MailStatus::Skipped),
            MailOutcome::Failed { error } => {
                n.last_error = Some(error);
                Some(MailStatus::Failed)
            }
            MailOutcome::Retry {
                next_attempt_at,
                error,
            } => {
                n.next_attempt_at = next_attempt_at;
                n.last_error = Some(error);
                None
            }
        };
        if let Some(status) = finished {
            n.mail_status = status;
            if let Some(o) = n.data.as_object_mut() {
                o.remove("sealed_token");
            }
        }
        Ok(())
    }
}
