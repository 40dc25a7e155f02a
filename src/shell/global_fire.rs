//! The global-scope step of one fire: claim the intended instant in Redis, then, for `Forbid` and
//! `Replace`, take the cluster-wide lease and keep it refreshed until the fire ends.
//!
//! Sequencing only: keys and decisions are `core::global_lock`'s, the Redis client is
//! `shell::global_lock`'s, and what to do when Redis is unavailable (`on_unavailable`) is the
//! trigger command's. Must never send anything: it only says whether this fire may.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use slog::{Logger, info, warn};

use crate::core::global_lock::{self as core_lock, Claim, HolderFacts, LeaseMode, LeaseRecord};
use crate::core::history::RunStatus;
use crate::core::missed;
use crate::core::spec::JobSpec;
use crate::shell::config::RedisLock;
use crate::shell::fire::{self, Outcome, Recorder};
use crate::shell::global_lock::{self, Claimed, Lease, LockError, RefreshEvent};

/// The lease a fire holds, where the SIGTERM handler and the panic hook can release it.
pub type LeaseSlot = Arc<Mutex<Option<Lease>>>;

/// What this fire may do.
pub enum Step {
    /// Deliver the instant; the lease (if the policy takes one) is released when this is dropped.
    Deliver(Option<HeldLease>),
    /// Another fire claimed the instant: exit 0, record `duplicate`. `silenced`: the claim looks
    /// planted (set before the instant, no expiry), so `check` counts the instant as missed.
    Duplicate { silenced: bool },
    /// The lease is held elsewhere (`Forbid`), or its holder did not let go in time (`Replace`).
    /// `silenced`: the lease looks planted (no expiry, held longer than the job's worst case).
    Contended { silenced: bool },
}

/// A lease released (compare-and-delete) when the fire is done with it.
pub struct HeldLease {
    lease: Lease,
    slot: LeaseSlot,
    log: Logger,
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Err(e) = self.lease.release() {
            warn!(self.log, "cannot release the global lease; it expires by itself"; "error" => e,
                  "expires_in_ms" => core_lock::LEASE_TTL_MS);
        }
    }
}

/// One fire's facts for the step.
pub struct GlobalFire<'a> {
    pub spec: &'a JobSpec,
    pub redis: &'a RedisLock,
    pub env_file: Option<&'a std::path::Path>,
    pub host_id: &'a str,
    pub run_id: &'a str,
    /// Intended fire time, unix seconds.
    pub fire_time: i64,
    pub log: &'a Logger,
    pub recorder: &'a Arc<Recorder>,
    pub slot: &'a LeaseSlot,
}

impl GlobalFire<'_> {
    /// Connect, claim the instant, then take the lease the policy asks for.
    pub fn take(&self) -> Result<Step, LockError> {
        let redis = global_lock::connect(self.redis, self.env_file)?;
        let (app, job) = (self.spec.app.as_str(), self.spec.job.name.as_str());
        let now = format!("{:.3}", Timestamp::now());
        let claim = Claim {
            host_id: self.host_id.to_string(),
            run_id: self.run_id.to_string(),
            fire_time: self.fire_time,
            claimed_at: now.clone(),
        };
        if let Claimed::Duplicate { by, suspect } = redis.claim(app, job, &claim)? {
            let by_host = by.map(|c| c.host_id).unwrap_or_default();
            if suspect {
                warn!(self.log, "the instant was claimed before it came (or the claim has no \
                      expiry): it looks planted; nothing sent, and `cronix check` counts the \
                      instant as missed"; "fire_time" => self.fire_time, "claimed_by" => by_host);
            } else {
                info!(self.log, "instant already claimed"; "fire_time" => self.fire_time,
                      "claimed_by" => by_host);
            }
            return Ok(Step::Duplicate { silenced: suspect });
        }
        let record = LeaseRecord {
            token: uuid::Uuid::now_v7().simple().to_string(),
            host_id: self.host_id.to_string(),
            run_id: self.run_id.to_string(),
            since: now,
        };
        let mode = core_lock::lease_mode(self.spec.job.policy.concurrency);
        let me = HolderFacts {
            run_id: self.run_id.to_string(),
            fire_time: self.fire_time,
            replace: mode == LeaseMode::Replace,
        };
        let lease = match mode {
            LeaseMode::None => return Ok(Step::Deliver(None)),
            LeaseMode::Forbid => redis.try_lease(app, job, &record, &me)?,
            LeaseMode::Replace => self.replace(&redis, &record, &me)?,
        };
        let Some(lease) = lease else {
            return Ok(self.contended(&redis));
        };
        Ok(Step::Deliver(Some(self.hold(lease))))
    }

    /// The lease is held elsewhere: say by whom, and whether that lease looks planted.
    fn contended(&self, redis: &global_lock::Redis) -> Step {
        let (app, job) = (self.spec.app.as_str(), self.spec.job.name.as_str());
        let Ok(seen) = redis.lease_seen(app, job) else {
            warn!(
                self.log,
                "another fire holds the global lease of this job; nothing sent"
            );
            return Step::Contended { silenced: false };
        };
        let worst_case = missed::worst_case_fire_seconds(&self.spec.job.policy);
        let silenced = core_lock::lease_is_stale(
            seen.pttl_ms,
            seen.value.as_deref(),
            Timestamp::now(),
            worst_case,
        );
        let (host, run, since) = seen
            .record
            .map(|h| (h.host_id, h.run_id, h.since))
            .unwrap_or_default();
        if silenced {
            warn!(self.log, "the global lease of this job has no expiry, cannot be read or is held \
                  longer than the job's worst case: it looks planted; nothing sent, and `cronix \
                  check` counts the instant as missed"; "holder_host_id" => host,
                  "holder_run_id" => run, "since" => since, "worst_case_seconds" => worst_case);
        } else {
            warn!(self.log, "another fire holds the global lease of this job; nothing sent";
                  "holder_host_id" => host, "holder_run_id" => run, "since" => since);
        }
        Step::Contended { silenced }
    }

    fn replace(
        &self,
        redis: &global_lock::Redis,
        record: &LeaseRecord,
        me: &HolderFacts,
    ) -> Result<Option<Lease>, LockError> {
        let wait = fire::replace_wait(self.spec.job.policy.timeout_seconds);
        let (app, job) = (self.spec.app.as_str(), self.spec.job.name.as_str());
        let (lease, asked) = redis.lease_replacing(app, job, record, me, wait)?;
        if let Some(holder) = asked {
            warn!(self.log, "asked the earlier fire of this job to stop (Replace)";
                  "holder_host_id" => holder.host_id, "holder_run_id" => holder.run_id,
                  "taken" => lease.is_some());
        }
        Ok(lease)
    }

    /// Put the lease where the signal handlers find it and start refreshing it.
    fn hold(&self, lease: Lease) -> HeldLease {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(lease.clone());
        let (recorder, log, held) = (Arc::clone(self.recorder), self.log.clone(), lease.clone());
        lease.start_refresher(move |event| on_refresh_event(event, &held, &recorder, &log));
        HeldLease {
            lease,
            slot: Arc::clone(self.slot),
            log: self.log.clone(),
        }
    }
}

/// A replace request stops this fire as SIGTERM does on one host: record `replaced`, release the
/// lease, exit 143. Losing the lease or failing to refresh it is logged; the fire goes on.
fn on_refresh_event(event: RefreshEvent, lease: &Lease, recorder: &Recorder, log: &Logger) {
    match event {
        RefreshEvent::Replaced(request) => {
            warn!(log, "a Replace fire asked this one to stop; stopping";
                  "by_host_id" => &request.by_host_id, "by_run_id" => &request.by_run_id);
            if recorder.finish(&Outcome::new(RunStatus::Replaced, Some("replaced"))) {
                let _ = lease.release();
                crate::error::exit_now(crate::error::ExitStatus::FIRE_TERMINATED);
            }
        }
        RefreshEvent::Lost => warn!(
            log,
            "the global lease expired or was taken over while this \
              fire ran; another fire of the job may overlap it"
        ),
        RefreshEvent::Failed(e) => warn!(log, "cannot refresh the global lease"; "error" => e,
              "lease_ttl_ms" => core_lock::LEASE_TTL_MS),
    }
}

/// Release the lease in `slot`, if any (the SIGTERM handler and the panic hook call this; the
/// panic hook must not block, so it passes `blocking: false`).
pub fn release_slot(slot: &LeaseSlot, blocking: bool) {
    let taken = if blocking {
        slot.lock().unwrap_or_else(|p| p.into_inner()).take()
    } else {
        slot.try_lock().ok().and_then(|mut s| s.take())
    };
    if let Some(lease) = taken {
        let _ = lease.release();
    }
}
