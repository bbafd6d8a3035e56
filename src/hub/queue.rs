//! The per-cluster work queue: a key is queued at most once, a running key is never handed to a second worker
//! (an event for it while it runs marks it to run again), and delayed requeues keep only the earliest deadline.
//! A named queue exports client-go's `workqueue_*` metrics and `controller_runtime_reconcile_total` under its name.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

struct State<K> {
    ready: VecDeque<K>,
    queued: HashSet<K>,
    /// Running keys, since when (workqueue_work_duration_seconds).
    running: HashMap<K, Instant>,
    dirty: HashSet<K>,
    /// When each queued or dirty key was added (workqueue_queue_duration_seconds).
    added: HashMap<K, Instant>,
    /// Each key's one pending delayed requeue, and the same by deadline for the timer task.
    scheduled: HashMap<K, Instant>,
    deadlines: BTreeMap<Instant, Vec<K>>,
    timer_started: bool,
}

pub struct WorkQueue<K> {
    state: Mutex<State<K>>,
    notify: Notify,
    /// Wakes the timer task when an earlier deadline is scheduled.
    timer: Notify,
    /// Set by [`WorkQueue::named`] or [`run_workers`]; none: no metrics.
    metrics: OnceLock<crate::metrics::QueueMetrics>,
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<K> {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                ready: VecDeque::new(),
                queued: HashSet::new(),
                running: HashMap::new(),
                dirty: HashSet::new(),
                added: HashMap::new(),
                scheduled: HashMap::new(),
                deadlines: BTreeMap::new(),
                timer_started: false,
            }),
            notify: Notify::new(),
            timer: Notify::new(),
            metrics: OnceLock::new(),
        })
    }

    /// A queue whose metrics carry `name` (Hive's controller name: `clustersync`) from its first add.
    pub fn named(name: &str) -> Arc<Self> {
        let queue = Self::new();
        let _ = queue.metrics.set(crate::metrics::QueueMetrics::new(name));
        queue
    }

    fn metrics(&self) -> Option<&crate::metrics::QueueMetrics> {
        self.metrics.get()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        // A panic while holding the lock leaves consistent sets behind; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add(&self, key: K) {
        let mut s = self.lock();
        if s.running.contains_key(&key) {
            if s.dirty.insert(key.clone()) {
                s.added.insert(key, Instant::now());
                if let Some(m) = self.metrics() {
                    m.adds.inc();
                }
            }
        } else if s.queued.insert(key.clone()) {
            s.added.insert(key.clone(), Instant::now());
            s.ready.push_back(key);
            if let Some(m) = self.metrics() {
                m.adds.inc();
                m.depth.set(s.ready.len() as i64);
            }
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Queues `key` after `delay`, unless it is already due earlier. One timer task per queue serves every delayed
    /// key (not a sleeping task per call, which under churn kept a task and its key alive for up to the 2 h re-apply
    /// interval after the cluster was gone).
    pub fn add_after(self: &Arc<Self>, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let at = Instant::now() + delay;
        let start_timer = {
            let mut s = self.lock();
            match s.scheduled.get(&key).copied() {
                Some(existing) if existing <= at => return,
                Some(existing) => unschedule(&mut s.deadlines, &key, existing),
                None => {}
            }
            s.scheduled.insert(key.clone(), at);
            s.deadlines.entry(at).or_default().push(key);
            !std::mem::replace(&mut s.timer_started, true)
        };
        if start_timer {
            tokio::spawn(run_timer(self.clone()));
        }
        self.timer.notify_one();
    }

    /// Drops `key`'s pending delayed requeue (its cluster is gone).
    pub fn forget(&self, key: &K) {
        let mut s = self.lock();
        if let Some(at) = s.scheduled.remove(key) {
            unschedule(&mut s.deadlines, key, at);
        }
    }

    /// Queues every key whose deadline has passed; returns the next deadline.
    fn fire_due(&self, now: Instant) -> Option<Instant> {
        let due: Vec<K> = {
            let mut s = self.lock();
            let later = s.deadlines.split_off(&(now + Duration::from_nanos(1)));
            let due = std::mem::replace(&mut s.deadlines, later);
            let keys: Vec<K> = due.into_values().flatten().collect();
            for k in &keys {
                s.scheduled.remove(k);
            }
            keys
        };
        for k in due {
            self.add(k);
        }
        self.lock().deadlines.keys().next().copied()
    }

    /// Waits for the next key and marks it running.
    pub async fn next(&self) -> K {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                if let Some(key) = s.ready.pop_front() {
                    s.queued.remove(&key);
                    let now = Instant::now();
                    let added = s.added.remove(&key);
                    if let Some(m) = self.metrics() {
                        m.depth.set(s.ready.len() as i64);
                        if let Some(at) = added {
                            m.queue_seconds.observe((now - at).as_secs_f64());
                        }
                    }
                    s.running.insert(key.clone(), now);
                    if !s.ready.is_empty() {
                        self.notify.notify_one();
                    }
                    return key;
                }
            }
            notified.await;
        }
    }

    /// Marks `key` finished; if events arrived while it ran, it is queued again (its wait counted from the first
    /// of those events, and not counted as another add).
    pub fn done(&self, key: &K) {
        let mut s = self.lock();
        if let Some(started) = s.running.remove(key) {
            if let Some(m) = self.metrics() {
                m.work_seconds.observe(started.elapsed().as_secs_f64());
            }
        }
        if s.dirty.remove(key) && s.queued.insert(key.clone()) {
            s.ready.push_back(key.clone());
            if let Some(m) = self.metrics() {
                m.depth.set(s.ready.len() as i64);
            }
            drop(s);
            self.notify.notify_one();
        }
    }

    pub fn len(&self) -> usize {
        self.lock().ready.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn unschedule<K: Eq>(deadlines: &mut BTreeMap<Instant, Vec<K>>, key: &K, at: Instant) {
    if let Some(keys) = deadlines.get_mut(&at) {
        keys.retain(|k| k != key);
        if keys.is_empty() {
            deadlines.remove(&at);
        }
    }
}

/// The queue's timer: sleeps until the earliest deadline (or until an earlier one is scheduled), then queues what is
/// due. Queues live as long as the process (the timer keeps its queue).
async fn run_timer<K: Clone + Eq + Hash + Send + Sync + 'static>(queue: Arc<WorkQueue<K>>) {
    loop {
        let wake = queue.timer.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        match queue.fire_due(Instant::now()) {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = wake => {}
                }
            }
            None => wake.await,
        }
    }
}

/// What a worker's `work` says about its key: nothing to do until the next event, look again after a delay, or retry
/// after a failure. `Option<Duration>` converts (None: done, Some: after). Counted in
/// `controller_runtime_reconcile_total{result}` (success, requeue_after, error) and, for retries,
/// `workqueue_retries_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Done,
    After(Duration),
    Retry(Duration),
}

impl From<Option<Duration>> for Next {
    fn from(next: Option<Duration>) -> Self {
        next.map_or(Self::Done, Self::After)
    }
}

/// After a panic, a key waits this long before it runs again, doubling per panic in a row up to `PANIC_BACKOFF_MAX`.
const PANIC_BACKOFF: Duration = Duration::from_secs(1);
const PANIC_BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Runs `workers` tasks that take keys from `queue`, call `work` on each and requeue it after the delay it returns.
/// The queue's metrics are named after the pool (`reconcile`: Hive's `clustersync`, `probe`: `unreachable`) unless
/// it was [`WorkQueue::named`].
/// A panic in `work` is caught: it is logged and counted (`hivesync_worker_panics_total{worker}`), the key is marked
/// done and retried with backoff (never left running, which would stop it for good), and the worker goes on. The
/// tasks are aborted when the returned future is dropped, so a shutdown stops every worker.
pub async fn run_workers<K, F, Fut, R>(
    queue: Arc<WorkQueue<K>>,
    workers: usize,
    name: &'static str,
    work: F,
) where
    K: Clone + Eq + Hash + std::fmt::Display + Send + Sync + 'static,
    F: Fn(K) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = R> + Send,
    R: Into<Next>,
{
    use futures::FutureExt;
    queue
        .metrics
        .get_or_init(|| crate::metrics::QueueMetrics::new(crate::metrics::controller_name(name)));
    let work = Arc::new(work);
    let panics: Arc<dashmap::DashMap<K, u32>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let (queue, work, panics) = (queue.clone(), work.clone(), panics.clone());
        tasks.spawn(async move {
            loop {
                let key = queue.next().await;
                let result = std::panic::AssertUnwindSafe(work(key.clone()))
                    .catch_unwind()
                    .await;
                queue.done(&key);
                let metrics = queue.metrics();
                let next = match result.map(Into::into) {
                    Ok(next) => {
                        panics.remove(&key);
                        match next {
                            Next::Done => {
                                metrics.inspect(|m| m.success.inc());
                                None
                            }
                            Next::After(after) => {
                                metrics.inspect(|m| m.requeue_after.inc());
                                Some(after)
                            }
                            Next::Retry(after) => {
                                metrics.inspect(|m| {
                                    m.error.inc();
                                    m.retries.inc();
                                });
                                Some(after)
                            }
                        }
                    }
                    Err(panic) => {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        crate::metrics::WORKER_PANICS.with_label_values(&[name]).inc();
                        let mut n = panics.entry(key.clone()).or_insert(0);
                        *n = (*n + 1).min(16);
                        let delay = PANIC_BACKOFF
                            .saturating_mul(1 << (*n - 1))
                            .min(PANIC_BACKOFF_MAX);
                        tracing::error!(worker = name, %key, panic = %what, retry_in = ?delay, "a worker panicked; retrying that key later");
                        metrics.inspect(|m| {
                            m.error.inc();
                            m.retries.inc();
                        });
                        Some(delay)
                    }
                };
                if let Some(after) = next {
                    queue.add_after(key, after);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_queued_once_and_never_runs_twice_at_once() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let a = q.next().await;
        assert_eq!(a, "a");
        q.add("a"); // while running: marked dirty, not handed out
        assert_eq!(q.next().await, "b");
        assert!(q.is_empty());
        q.done(&a);
        assert_eq!(q.next().await, "a");
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_key_is_retried_with_backoff_and_the_workers_go_on() {
        let q = WorkQueue::new();
        let runs: Arc<Mutex<Vec<(&str, Instant)>>> = Arc::default();
        let r = runs.clone();
        let workers = tokio::spawn(run_workers(
            q.clone(),
            1,
            "test",
            move |key: &'static str| {
                let r = r.clone();
                async move {
                    let n = {
                        let mut runs = r.lock().unwrap();
                        runs.push((key, Instant::now()));
                        runs.iter().filter(|(k, _)| *k == key).count()
                    };
                    if key == "bad" && n < 3 {
                        panic!("boom {n}");
                    }
                    Next::Done
                }
            },
        ));
        let start = Instant::now();
        q.add("bad");
        q.add("good");
        tokio::time::sleep(Duration::from_secs(10)).await;
        let runs = runs.lock().unwrap().clone();
        let at = |key| -> Vec<u64> {
            runs.iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, t)| (*t - start).as_secs())
                .collect()
        };
        // The single worker survived both panics: "good" ran, and "bad" ran again after 1 s, then 2 s more.
        assert_eq!(at("good"), vec![0]);
        assert_eq!(at("bad"), vec![0, 1, 3]);
        assert!(q.is_empty());
        workers.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_named_queue_exports_client_go_s_workqueue_metrics() {
        use crate::metrics::{
            RECONCILE_TOTAL, WORKQUEUE_ADDS, WORKQUEUE_DEPTH, WORKQUEUE_QUEUE_SECONDS,
            WORKQUEUE_RETRIES, WORKQUEUE_WORK_SECONDS,
        };
        let name = "test-named-queue";
        let q = WorkQueue::named(name);
        q.add("a");
        q.add("a"); // already queued: not another add
        q.add("b");
        assert_eq!(WORKQUEUE_ADDS.with_label_values(&[name]).get(), 2);
        assert_eq!(WORKQUEUE_DEPTH.with_label_values(&[name]).get(), 2);
        tokio::time::sleep(Duration::from_millis(250)).await;
        let a = q.next().await;
        assert_eq!(WORKQUEUE_DEPTH.with_label_values(&[name]).get(), 1);
        let waited = WORKQUEUE_QUEUE_SECONDS.with_label_values(&[name]);
        assert_eq!(waited.get_sample_count(), 1);
        assert!((waited.get_sample_sum() - 0.25).abs() < 1e-3);
        q.add(a); // while running: marked dirty, one add
        assert_eq!(WORKQUEUE_ADDS.with_label_values(&[name]).get(), 3);
        tokio::time::sleep(Duration::from_millis(500)).await;
        q.done(&a);
        let worked = WORKQUEUE_WORK_SECONDS.with_label_values(&[name]);
        assert_eq!(worked.get_sample_count(), 1);
        assert!((worked.get_sample_sum() - 0.5).abs() < 1e-3);
        // Requeued for the event that came while it ran: no new add, back in the queue.
        assert_eq!(WORKQUEUE_ADDS.with_label_values(&[name]).get(), 3);
        assert_eq!(WORKQUEUE_DEPTH.with_label_values(&[name]).get(), 2);

        // Results as controller-runtime counts them, and retries.
        let workers = tokio::spawn(run_workers(
            q.clone(),
            1,
            "test-pool",
            |key: &'static str| async move {
                match key {
                    "a" => Next::Retry(Duration::from_secs(3600)),
                    _ => Next::Done,
                }
            },
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let result = |r: &str| RECONCILE_TOTAL.with_label_values(&[name, r]).get();
        assert_eq!((result("success"), result("error")), (1, 1));
        assert_eq!(WORKQUEUE_RETRIES.with_label_values(&[name]).get(), 1);
        workers.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_forgotten_key_leaves_nothing_scheduled() {
        let q = WorkQueue::new();
        q.add_after("gone", Duration::from_secs(7200));
        q.add_after("gone", Duration::from_secs(60));
        q.add_after("kept", Duration::from_secs(30));
        q.forget(&"gone");
        {
            let s = q.lock();
            assert_eq!(s.scheduled.len(), 1);
            assert_eq!(
                s.deadlines.values().flatten().collect::<Vec<_>>(),
                [&"kept"]
            );
        }
        tokio::time::sleep(Duration::from_secs(7201)).await;
        assert_eq!(q.next().await, "kept");
        assert!(q.is_empty());
        assert!(q.lock().deadlines.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_requeue_keeps_the_earliest_deadline() {
        let q = WorkQueue::new();
        q.add_after("a", Duration::from_secs(10));
        q.add_after("a", Duration::from_secs(100));
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert_eq!(q.len(), 1);
        assert_eq!(q.next().await, "a");
    }
}
