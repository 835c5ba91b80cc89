//! Every object of one kind (in a namespace or the whole cluster) as a stream of snapshots: one
//! after the initial list, then one per change. The status gates judge whole sets (every
//! Application, every ExternalSecret), and a watch on the collection sees a new or changed
//! object as it happens, with one connection per kind instead of one per object.

use std::collections::BTreeMap;

use futures_util::{Stream, StreamExt, future};
use kube::Api;
use kube::api::DynamicObject;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;

use crate::kube::wait::Backoff;

/// `namespace/name` (or `name` for cluster-scoped objects) → the object as JSON.
pub type Snapshot = BTreeMap<String, Value>;

/// The key of an object in a [`Snapshot`].
pub fn key(obj: &Value) -> String {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or_default();
    match s("/metadata/namespace") {
        "" => s("/metadata/name").to_string(),
        ns => format!("{ns}/{}", s("/metadata/name")),
    }
}

/// Snapshots of every object `api` lists; watch errors are items too (the watch restarts after
/// them, `retry` apart).
pub fn watch(
    api: Api<DynamicObject>,
    retry: Backoff,
) -> impl Stream<Item = Result<Snapshot, watcher::Error>> + Send {
    #[derive(Default)]
    struct Seen {
        listed: Option<Snapshot>,
        listing: Snapshot,
    }
    let json = |o: DynamicObject| serde_json::to_value(o).unwrap_or(Value::Null);
    watcher::watcher(api, watcher::Config::default())
        .backoff(retry)
        .scan(Seen::default(), move |seen, e| {
            let item = match e {
                Ok(Event::Init) => {
                    seen.listing.clear();
                    None
                }
                Ok(Event::InitApply(o)) => {
                    let v = json(o);
                    seen.listing.insert(key(&v), v);
                    None
                }
                Ok(Event::InitDone) => {
                    seen.listed = Some(std::mem::take(&mut seen.listing));
                    seen.listed.clone().map(Ok)
                }
                Ok(Event::Apply(o)) => {
                    let v = json(o);
                    let listed = seen.listed.get_or_insert_default();
                    listed.insert(key(&v), v);
                    Some(Ok(listed.clone()))
                }
                Ok(Event::Delete(o)) => {
                    let v = json(o);
                    let listed = seen.listed.get_or_insert_default();
                    listed.remove(&key(&v));
                    Some(Ok(listed.clone()))
                }
                Err(e) => Some(Err(e)),
            };
            future::ready(Some(item))
        })
        .filter_map(future::ready)
}
