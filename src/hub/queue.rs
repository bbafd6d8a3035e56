//! The per-cluster work queue: a key is queued at most once, a running key is never handed to a second worker
//! (an event for it while it runs marks it to run again), and delayed requeues keep only the earliest deadline.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

struct State<K> {
    ready: VecDeque<K>,
    queued: HashSet<K>,
    running: HashSet<K>,
    dirty: HashSet<K>,
    scheduled: HashMap<K, Instant>,
}

pub struct WorkQueue<K> {
    state: Mutex<State<K>>,
    notify: Notify,
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<K> {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                ready: VecDeque::new(),
                queued: HashSet::new(),
                running: HashSet::new(),
                dirty: HashSet::new(),
                scheduled: HashMap::new(),
            }),
            notify: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        // A panic while holding the lock leaves consistent sets behind; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add(&self, key: K) {
        let mut s = self.lock();
        if s.running.contains(&key) {
            s.dirty.insert(key);
        } else if s.queued.insert(key.clone()) {
            s.ready.push_back(key);
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Queues `key` after `delay`, unless it is already due earlier.
    pub fn add_after(self: &Arc<Self>, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let at = Instant::now() + delay;
        {
            let mut s = self.lock();
            match s.scheduled.get(&key) {
                Some(existing) if *existing <= at => return,
                _ => {
                    s.scheduled.insert(key.clone(), at);
                }
            }
        }
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let due = {
                let mut s = me.lock();
                if s.scheduled.get(&key) == Some(&at) {
                    s.scheduled.remove(&key);
                    true
                } else {
                    false
                }
            };
            if due {
                me.add(key);
            }
        });
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
                    s.running.insert(key.clone());
                    if !s.ready.is_empty() {
                        self.notify.notify_one();
                    }
                    return key;
                }
            }
            notified.await;
        }
    }

    /// Marks `key` finished; if events arrived while it ran, it is queued again.
    pub fn done(&self, key: &K) {
        let again = {
            let mut s = self.lock();
            s.running.remove(key);
            s.dirty.remove(key)
        };
        if again {
            self.add(key.clone());
        }
    }

    pub fn len(&self) -> usize {
        self.lock().ready.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
    async fn a_delayed_requeue_keeps_the_earliest_deadline() {
        let q = WorkQueue::new();
        q.add_after("a", Duration::from_secs(10));
        q.add_after("a", Duration::from_secs(100));
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert_eq!(q.len(), 1);
        assert_eq!(q.next().await, "a");
    }
}
