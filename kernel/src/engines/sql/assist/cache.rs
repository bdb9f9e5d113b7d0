//! What completion needs from the catalog, kept in memory so a completion never waits on
//! the network when an answer is cached: the table listing, the columns of each table and
//! (Nessie) the branches and tags.
//!
//! Entries belong to a catalog *generation*: the session bumps it ([`AssistCache::invalidate`])
//! after DDL and after switching or changing references, which drops every entry. Otherwise
//! an entry older than [`REFRESH_AFTER`] is still answered from, and refreshed in the
//! background (one fetch per entry at a time), so other kernels' changes show up within a
//! few seconds. A fetch that finishes after the generation changed is thrown away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use iceberg::{Catalog, TableIdent};
use lakehouse_nessie::{NessieCatalog, Reference};
use tokio::runtime::Handle;

use crate::catalog::{self, LakehouseCatalog, Listing};

/// Age after which a cached entry is refreshed in the background when it is used.
pub const REFRESH_AFTER: Duration = Duration::from_secs(5);

/// A column of a table, for completion and inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Its type as Iceberg names it (`string`, `double`, `timestamp`, ...).
    pub data_type: String,
}

type Pending = Shared<BoxFuture<'static, ()>>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Listing,
    References,
    Columns(String, String),
}

enum Fetched {
    Listing(Listing),
    References(Vec<Reference>),
    Columns(Vec<Column>),
    Failed,
}

/// A cached value and when it was fetched.
type Stamped<T> = (Arc<T>, Instant);

#[derive(Default)]
struct State {
    generation: u64,
    listing: Option<Stamped<Listing>>,
    references: Option<Stamped<Vec<Reference>>>,
    columns: HashMap<(String, String), Stamped<Vec<Column>>>,
    pending: HashMap<Key, Pending>,
}

/// The session's cache of catalog facts for completion and inspection.
pub struct AssistCache {
    state: Arc<Mutex<State>>,
    /// Where background fetches run (the engine's runtime).
    rt: Option<Handle>,
}

impl Default for AssistCache {
    fn default() -> Self {
        Self::new()
    }
}

impl AssistCache {
    /// An empty cache; background fetches run on the current tokio runtime, if any.
    pub fn new() -> Self {
        AssistCache {
            state: Arc::default(),
            rt: Handle::try_current().ok(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets everything: the catalog changed (DDL) or the session moved to another
    /// reference. The next completion reads the listing the session refreshed after the
    /// change, and fetches columns and references again.
    pub fn invalidate(&self) {
        let mut s = self.lock();
        s.generation += 1;
        s.listing = None;
        s.references = None;
        s.columns.clear();
        s.pending.clear();
    }

    /// Schemas and tables. Never waits: without a cached listing it takes the one the
    /// session keeps (refreshed before statements and after DDL).
    pub fn listing(&self, lakehouse: &LakehouseCatalog) -> Arc<Listing> {
        let mut s = self.lock();
        if let Some((l, at)) = &s.listing {
            let l = l.clone();
            if at.elapsed() > REFRESH_AFTER {
                let cat = lakehouse.iceberg();
                self.start(&mut s, Key::Listing, async move {
                    match LakehouseCatalog::list(cat.as_ref()).await {
                        Ok(l) => Fetched::Listing(l),
                        Err(e) => {
                            log::debug!("background listing failed: {e}");
                            Fetched::Failed
                        }
                    }
                });
            }
            return l;
        }
        let l = Arc::new(lakehouse.listing());
        s.listing = Some((l.clone(), Instant::now()));
        l
    }

    /// The columns of `schema.table`: cached ones at once (refreshed in the background when
    /// old); otherwise fetched, waiting at most `budget` (the fetch goes on after that, so a
    /// later completion finds them). `None` when they are not there in time.
    pub async fn columns(
        &self,
        lakehouse: &LakehouseCatalog,
        schema: &str,
        table: &str,
        budget: Duration,
    ) -> Option<Arc<Vec<Column>>> {
        let key = (schema.to_string(), table.to_string());
        let pending = {
            let mut s = self.lock();
            let cached = s.columns.get(&key).cloned();
            let stale = cached
                .as_ref()
                .is_none_or(|(_, at)| at.elapsed() > REFRESH_AFTER);
            let k = Key::Columns(key.0.clone(), key.1.clone());
            if stale {
                let cat = lakehouse.iceberg();
                let ident = TableIdent::new(catalog::namespace(schema), table.to_string());
                self.start(&mut s, k.clone(), async move {
                    match load_columns(cat.as_ref(), &ident).await {
                        Ok(c) => Fetched::Columns(c),
                        Err(e) => {
                            log::debug!("cannot load the columns of {ident}: {e}");
                            Fetched::Failed
                        }
                    }
                });
            }
            if let Some((c, _)) = cached {
                return Some(c);
            }
            s.pending.get(&k).cloned()?
        };
        wait(pending, budget).await;
        self.lock().columns.get(&key).map(|(c, _)| c.clone())
    }

    /// Branches and tags of `nessie`, like [`columns`](Self::columns).
    pub async fn references(
        &self,
        nessie: &NessieCatalog,
        budget: Duration,
    ) -> Option<Arc<Vec<Reference>>> {
        let pending = {
            let mut s = self.lock();
            let cached = s.references.clone();
            let stale = cached
                .as_ref()
                .is_none_or(|(_, at)| at.elapsed() > REFRESH_AFTER);
            if stale {
                let nessie = nessie.clone();
                self.start(&mut s, Key::References, async move {
                    match nessie.list_references().await {
                        Ok(r) => Fetched::References(r),
                        Err(e) => {
                            log::debug!("cannot list references: {e}");
                            Fetched::Failed
                        }
                    }
                });
            }
            if let Some((r, _)) = cached {
                return Some(r);
            }
            s.pending.get(&Key::References).cloned()?
        };
        wait(pending, budget).await;
        self.lock().references.as_ref().map(|(r, _)| r.clone())
    }

    /// Runs `fetch` in the background unless the same fetch is under way (see
    /// [`State::pending`]). Its result is stored only if the generation is still the same.
    fn start(
        &self,
        s: &mut State,
        key: Key,
        fetch: impl std::future::Future<Output = Fetched> + Send + 'static,
    ) {
        if s.pending.contains_key(&key) {
            return;
        }
        let generation = s.generation;
        let state = self.state.clone();
        let k = key.clone();
        let task = async move {
            let fetched = fetch.await;
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            if s.generation != generation {
                return;
            }
            s.pending.remove(&k);
            let now = Instant::now();
            match (k, fetched) {
                (Key::Listing, Fetched::Listing(l)) => s.listing = Some((Arc::new(l), now)),
                (Key::References, Fetched::References(r)) => {
                    s.references = Some((Arc::new(r), now))
                }
                (Key::Columns(schema, table), Fetched::Columns(c)) => {
                    s.columns.insert((schema, table), (Arc::new(c), now));
                }
                // A failed refresh keeps the old answer and waits as long as a good one
                // would before trying again; a failed first fetch leaves an empty answer
                // (a dropped table has no columns).
                (Key::Listing, _) => {
                    if let Some((_, at)) = s.listing.as_mut() {
                        *at = now;
                    }
                }
                (Key::References, _) => {
                    let old = s.references.take().map(|(r, _)| r).unwrap_or_default();
                    s.references = Some((old, now));
                }
                (Key::Columns(schema, table), _) => {
                    let old = s
                        .columns
                        .remove(&(schema.clone(), table.clone()))
                        .map(|(c, _)| c)
                        .unwrap_or_default();
                    s.columns.insert((schema, table), (old, now));
                }
            }
        };
        let pending: Pending = match &self.rt {
            Some(rt) => rt.spawn(task).map(|_| ()).boxed().shared(),
            None => task.boxed().shared(),
        };
        s.pending.insert(key, pending);
    }
}

/// Waits for `pending` at most `budget`.
async fn wait(pending: Pending, budget: Duration) {
    if budget.is_zero() {
        return;
    }
    let _ = tokio::time::timeout(budget, pending).await;
}

/// The current schema's columns of a table.
pub async fn load_columns(cat: &dyn Catalog, ident: &TableIdent) -> iceberg::Result<Vec<Column>> {
    let table = cat.load_table(ident).await?;
    Ok(table
        .metadata()
        .current_schema()
        .as_struct()
        .fields()
        .iter()
        .map(|f| Column {
            name: f.name.clone(),
            data_type: f.field_type.to_string(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn invalidate_drops_entries_and_late_fetches() {
        let cache = AssistCache::new();
        {
            let mut s = cache.lock();
            s.columns.insert(
                ("demo".into(), "t".into()),
                (
                    Arc::new(vec![Column {
                        name: "a".into(),
                        data_type: "int".into(),
                    }]),
                    Instant::now(),
                ),
            );
        }
        // A fetch started before the change must not land after it.
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        let pending = {
            let mut s = cache.lock();
            cache.start(&mut s, Key::References, async move {
                g.notified().await;
                Fetched::References(vec![])
            });
            s.pending[&Key::References].clone()
        };
        cache.invalidate();
        assert_eq!(cache.lock().generation, 1);
        assert!(cache.lock().columns.is_empty());
        gate.notify_one();
        pending.await;
        assert!(cache.lock().references.is_none());
    }

    #[tokio::test]
    async fn one_fetch_per_entry_at_a_time() {
        let cache = AssistCache::new();
        let gate = Arc::new(tokio::sync::Notify::new());
        let (a, b) = {
            let mut s = cache.lock();
            let g = gate.clone();
            cache.start(&mut s, Key::References, async move {
                g.notified().await;
                Fetched::References(vec![])
            });
            let a = s.pending[&Key::References].clone();
            cache.start(&mut s, Key::References, async { Fetched::Failed });
            let b = s.pending[&Key::References].clone();
            (a, b)
        };
        gate.notify_one();
        a.await;
        b.await;
        assert!(cache.lock().references.is_some());
        assert!(cache.lock().pending.is_empty());
    }
}
