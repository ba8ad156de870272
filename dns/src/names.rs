//! The names a profile answers without a node of their own.
//!
//! A profile brings its owner name and, for the health view, `_health.<owner>`,
//! `_cluster.<owner>` (an empty non-terminal) and one `<cluster>._cluster.<owner>`
//! per member cluster. At 100k profiles, giving each of those a map entry, a
//! key and a node of its own cost more than the answers themselves, so only
//! the owner has a node ([`crate::zone::ProfileNode`] holds the rest) and a
//! lookup that misses the map recognises these shapes and asks the owner's
//! node: one more hash lookup, no allocation. [`At`] is what a lookup finds,
//! whichever way; a name server's name that happens to coincide with one of
//! these names is merged with it as a whole compile always did.

use crate::nodes::Nodes;
use crate::zone::{
    Answers, Cluster, Glue, HealthView, Node, Pick, ProfileNode, CLUSTER_LABEL, HEALTH_LABEL,
};

/// What exists at one name.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct At<'z> {
    /// The apex carries SOA and NS.
    pub(crate) apex: bool,
    /// Health-view name: does not exist for untrusted clients.
    pub(crate) private: bool,
    /// A name server's address records.
    pub(crate) glue: Option<&'z Glue>,
    /// A profile's endpoint answers, at its owner name.
    pub(crate) answers: Option<&'z Answers>,
    /// One cluster's endpoint answers (ranges of the pick).
    pub(crate) cluster: Option<(&'z Pick, &'z Cluster)>,
    /// The `_health` TXT view of a profile.
    pub(crate) health: Option<&'z HealthView>,
}

impl<'z> At<'z> {
    fn of(node: &'z Node) -> Self {
        Self {
            apex: node.apex,
            private: node.private,
            glue: node.glue.as_deref(),
            answers: node.profile.as_ref().map(|p| &p.answers),
            cluster: None,
            health: None,
        }
    }

    /// Its static A records, if it has any.
    pub(crate) fn a(&self) -> Option<&'z crate::zone::Rrset> {
        self.glue.map(|g| &g.a).filter(|r| !r.is_empty())
    }

    /// Its static AAAA records, if it has any.
    pub(crate) fn aaaa(&self) -> Option<&'z crate::zone::Rrset> {
        self.glue.map(|g| &g.aaaa).filter(|r| !r.is_empty())
    }
}

/// The first label of a wire name and the name after it.
fn split(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::from(*key.first()?);
    if len == 0 {
        return None;
    }
    Some((key.get(1..1 + len)?, key.get(1 + len..)?))
}

/// What exists at `key` (lower-case wire form).
pub(crate) fn lookup<'z>(nodes: &'z Nodes, key: &[u8]) -> Option<At<'z>> {
    let exact = nodes.get(key).map(At::of);
    let Some(derived) = derived(nodes, key) else {
        return exact;
    };
    let Some(node) = exact else {
        return Some(derived);
    };
    // Both (a name server named like a profile's health-view name): as a
    // whole compile merged the two nodes.
    let data = derived.cluster.is_some() || derived.health.is_some();
    Some(At {
        apex: node.apex,
        private: if data { derived.private } else { node.private },
        glue: node.glue,
        answers: if derived.cluster.is_some() {
            None
        } else {
            node.answers
        },
        cluster: derived.cluster,
        health: derived.health,
    })
}

fn profile<'z>(nodes: &'z Nodes, owner: &[u8]) -> Option<&'z ProfileNode> {
    nodes.get(owner)?.profile.as_ref()
}

/// `_health.<owner>`, `_cluster.<owner>` or `<cluster>._cluster.<owner>`.
fn derived<'z>(nodes: &'z Nodes, key: &[u8]) -> Option<At<'z>> {
    let private = At {
        private: true,
        ..At::default()
    };
    let (first, rest) = split(key)?;
    if first == HEALTH_LABEL.as_bytes() {
        let health = profile(nodes, rest).filter(|p| p.health)?;
        return Some(At {
            health: Some(health),
            ..private
        });
    }
    if first == CLUSTER_LABEL.as_bytes() {
        return (!profile(nodes, rest)?.clusters.is_empty()).then_some(private);
    }
    // A cluster's name may have several labels: try each `_cluster` below it.
    let mut at = 1 + first.len();
    while let Some((label, rest)) = split(&key[at..]) {
        if label == CLUSTER_LABEL.as_bytes() {
            if let Some(p) = profile(nodes, rest) {
                let cluster = &key[..at];
                if let Ok(i) = p
                    .clusters
                    .binary_search_by(|c| nodes.label(c.label).cmp(cluster))
                {
                    return Some(At {
                        cluster: Some((&p.cluster_records, &p.clusters[i])),
                        ..private
                    });
                }
            }
        }
        at += 1 + label.len();
    }
    None
}

/// `_health.<owner>`.
pub(crate) fn health_key(owner: &[u8]) -> Box<[u8]> {
    let mut key = vec![HEALTH_LABEL.len() as u8];
    key.extend_from_slice(HEALTH_LABEL.as_bytes());
    key.extend_from_slice(owner);
    key.into()
}

/// `<cluster>._cluster.<owner>`, or `_cluster.<owner>` for an empty `cluster`.
pub(crate) fn cluster_key(cluster: &[u8], owner: &[u8]) -> Box<[u8]> {
    let mut key = cluster.to_vec();
    key.push(CLUSTER_LABEL.len() as u8);
    key.extend_from_slice(CLUSTER_LABEL.as_bytes());
    key.extend_from_slice(owner);
    key.into()
}

/// Every name of the zone, each once, in no particular order.
pub(crate) fn all(nodes: &Nodes) -> Vec<Box<[u8]>> {
    let mut out = Vec::new();
    for (key, node) in nodes.iter() {
        out.push(key.clone());
        if let Some(p) = &node.profile {
            if p.health {
                out.push(health_key(key));
            }
            if !p.clusters.is_empty() {
                out.push(cluster_key(&[], key));
            }
            out.extend(
                p.clusters
                    .iter()
                    .map(|c| cluster_key(nodes.label(c.label), key)),
            );
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}
