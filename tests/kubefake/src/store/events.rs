//! events.k8s.io/v1 and core v1 Events share one storage on a real apiserver, so
//! an Event created through the new API is listed by the old one, which is what
//! `kubectl describe` reads (`/api/v1/namespaces/<ns>/events` with an
//! `involvedObject.*` field selector). Here the store keeps a converted core v1
//! copy of each events.k8s.io/v1 Event it creates (same name, uid and
//! resourceVersion), converted as the apiserver converts: `regarding` →
//! `involvedObject`, `note` → `message`, `reportingController` →
//! `reportingComponent` and `source.component`, `deprecatedCount` → `count`.

use serde_json::{json, Value};

use super::{EventKind, Store};
use crate::registry::Registry;

impl Store {
    /// After creating `obj` in `rid`: if it is an events.k8s.io/v1 Event, also
    /// stores its core v1 form.
    pub(super) fn mirror_event(&mut self, reg: &Registry, rid: usize, ns: &str, obj: &Value) {
        let rt = &reg.types[rid];
        if rt.group != "events.k8s.io" || rt.plural != "events" {
            return;
        }
        let Some(core) = reg
            .types
            .iter()
            .position(|t| t.group.is_empty() && t.plural == "events")
        else {
            return;
        };
        let v1 = to_core(obj);
        let name = crate::meta::meta_str(&v1, "name").to_string();
        let key = (core, ns.to_string(), name);
        self.objects.insert(key.clone(), v1.clone());
        self.record(EventKind::Added, &key, v1, None);
    }
}

/// The core v1 form of an events.k8s.io/v1 Event.
pub fn to_core(e: &Value) -> Value {
    let mut metadata = e.get("metadata").cloned().unwrap_or_else(|| json!({}));
    if let Some(m) = metadata.as_object_mut() {
        m.remove("managedFields");
    }
    let controller = e.get("reportingController").cloned().unwrap_or(Value::Null);
    let time = e
        .get("deprecatedLastTimestamp")
        .cloned()
        .filter(|v| !v.is_null())
        .unwrap_or(Value::Null);
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": metadata,
        "involvedObject": e.get("regarding").cloned().unwrap_or_else(|| json!({})),
        "related": e.get("related").cloned().unwrap_or(Value::Null),
        "reason": e.get("reason").cloned().unwrap_or(Value::Null),
        "message": e.get("note").cloned().unwrap_or(Value::Null),
        "type": e.get("type").cloned().unwrap_or(Value::Null),
        "action": e.get("action").cloned().unwrap_or(Value::Null),
        "eventTime": e.get("eventTime").cloned().unwrap_or(Value::Null),
        "reportingComponent": controller.clone(),
        "reportingInstance": e.get("reportingInstance").cloned().unwrap_or(Value::Null),
        "source": {"component": controller},
        "count": e.get("deprecatedCount").cloned().unwrap_or(json!(1)),
        "firstTimestamp": e.get("deprecatedFirstTimestamp").cloned().unwrap_or(Value::Null),
        "lastTimestamp": time,
    })
}
