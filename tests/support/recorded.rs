//! Reading what a `metrics_util` debugging recorder recorded.

use std::collections::BTreeMap;

use metrics_util::debugging::{DebugValue, Snapshotter};

/// The counters recorded since the last snapshot, as `name{label="value",…}` → count.
pub fn counters(snapshotter: &Snapshotter) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        // A snapshot lists every key seen so far, at 0 when it did not move since the last one.
        if let DebugValue::Counter(n) = value
            && n > 0
        {
            let key = key.key();
            let labels: Vec<_> = key
                .labels()
                .map(|l| format!("{}={:?}", l.key(), l.value()))
                .collect();
            out.insert(format!("{}{{{}}}", key.name(), labels.join(",")), n);
        }
    }
    out
}
