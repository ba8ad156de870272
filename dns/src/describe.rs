//! A zone as sorted lines of text, for tests that compare two zones (a patched
//! zone against a whole compile): what a query can see, not how it is stored.

use hickory_proto::rr::Name;

use crate::names;
use crate::pick::Range;
use crate::zone::{EndpointKey, Pick, Rrset, Zone};

impl Zone {
    /// Everything the zone answers, one line per fact, sorted: names and their
    /// flags, RRsets as wire bytes, each answer set's records with weight and
    /// endpoint id, health views. Endpoint positions are left out (a patched
    /// zone numbers them differently from a whole compile), their ids are not.
    /// For tests that compare two zones.
    pub fn describe(&self) -> Vec<String> {
        fn hex(b: &[u8]) -> String {
            b.iter().map(|x| format!("{x:02x}")).collect()
        }
        let key = |k: &EndpointKey<'_>| {
            let (namespace, name) = k.profile_name();
            format!("{namespace}/{name}|{}|{}", k.id(), k.answerable)
        };
        let set = |r: &Rrset| {
            let records: Vec<String> = r.records.iter().map(ToString::to_string).collect();
            format!("{} [{}]", hex(&r.wire.bytes), records.join(","))
        };
        let keys: std::collections::HashMap<u32, String> = self
            .nodes
            .endpoint_keys()
            .map(|(pos, k)| (pos, key(&k)))
            .collect();
        let id = |pos: u32| keys.get(&pos).cloned().unwrap_or_else(|| "<none>".into());
        let mut out = vec![
            format!("soa {}", set(&self.soa)),
            format!("soa- {}", set(&self.soa_negative)),
            format!("ns {}", set(&self.ns)),
            format!("glue {}", set(&self.glue)),
        ];
        for key in names::all(&self.nodes) {
            let Some(node) = names::lookup(&self.nodes, &key) else {
                continue;
            };
            let name = hex(&key);
            out.push(format!(
                "{name} apex={} private={} a={} aaaa={}",
                node.apex,
                node.private,
                node.a().map(set).unwrap_or_default(),
                node.aaaa().map(set).unwrap_or_default()
            ));
            let set_of = |t: &str, pick: &Pick, range: Range, total: u64| {
                let mut records: Vec<String> = range
                    .indices()
                    .map(|i| {
                        format!(
                            "{} {} w={} {}",
                            hex(pick.wire(i)),
                            pick.record(i, &Name::root()).data,
                            pick.weights()[i],
                            id(pick.endpoints()[i])
                        )
                    })
                    .collect();
                records.sort();
                format!(
                    "{name} {t} max={} total={total} [{}]",
                    pick.max_return,
                    records.join("; ")
                )
            };
            if let Some(p) = node.answers {
                for (t, pick) in [("a", &p.a), ("aaaa", &p.aaaa), ("cname", &p.cname)] {
                    out.push(match pick.as_deref() {
                        Some(pick) => set_of(t, pick, pick.all(), pick.total()),
                        None => format!("{name} {t} none"),
                    });
                }
            }
            if let Some((pick, c)) = node.cluster {
                for (t, range) in ["a", "aaaa", "cname"].into_iter().zip(c.ranges()) {
                    out.push(match range.len {
                        0 => format!("{name} {t} none"),
                        _ => set_of(t, pick, range, pick.total_of(range)),
                    });
                }
            }
            if let Some(p) = self.nodes.get(&key).and_then(|n| n.profile.as_ref()) {
                let ids: Vec<String> = p.positions().map(id).collect();
                out.push(format!("{name} endpoints [{}]", ids.join("; ")));
            }
            if let Some(v) = node.health {
                out.push(format!(
                    "{name} view {:?} {} {:?}",
                    v.profile(),
                    v.fail_closed(),
                    v.routing()
                ));
                for e in v.endpoints() {
                    out.push(format!(
                        "{name} view {} {} {} w={} always={} served={} prio={}",
                        e.id, e.cluster, e.target, e.weight, e.always_serve, e.served, e.priority
                    ));
                }
            }
        }
        let mut lines: Vec<String> = keys.values().map(|k| format!("key {k}")).collect();
        lines.sort();
        out.extend(lines);
        out.sort();
        out
    }
}

impl Zone {
    /// Whether every profile the zone holds (its owners' nodes, which the
    /// health views and answer counters read) is `fleet`'s own `Arc`, not an equal copy kept
    /// alive beside it. For tests of patched zones.
    pub fn shares_profiles_of(&self, fleet: &fleetdns_config::Fleet) -> bool {
        let own = |p: &std::sync::Arc<fleetdns_config::Profile>| {
            fleet
                .profiles
                .binary_search_by(|q| q.owner.cmp(&p.owner))
                .is_ok_and(|i| std::sync::Arc::ptr_eq(&fleet.profiles[i], p))
        };
        let nodes = self.nodes.iter().filter_map(|(_, n)| n.profile.as_ref());
        let mut count = 0;
        for p in nodes {
            count += 1;
            if !own(&p.profile) {
                return false;
            }
        }
        count == fleet.profiles.len()
    }
}
