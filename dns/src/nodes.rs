//! The zone's owner names, in shards chosen by the label under the apex.
//!
//! Every name a profile brings (`<owner>`, and the names below it that its
//! node answers, see [`crate::names`]) shares the owner's label under the
//! apex, so they all land in one shard. A change to one
//! profile copies that shard (a few dozen entries) and shares every other one
//! with the zone it came from; the nodes themselves are shared too. The query
//! path pays one short hash of that label on top of the map lookup.

use std::collections::HashMap;
use std::sync::Arc;

use crate::fnv::Fnv;
use crate::zone::Node;

/// One shard: names (lower-case wire form) and their nodes.
pub(crate) type Shard = HashMap<Box<[u8]>, Arc<Node>>;

/// Owner names of a zone, sharded.
#[derive(Debug)]
pub(crate) struct Nodes {
    shards: Box<[Arc<Shard>]>,
    /// Length of the apex in wire form: names end with it.
    apex_len: usize,
    /// The member clusters' labels the per-cluster names use, each once
    /// (every profile repeats them): nodes name them by number.
    labels: Arc<Labels>,
}

/// Cluster labels (lower-case wire form, without the root), numbered in the
/// order they were first seen. A patch appends; nothing is removed (a
/// cluster name that leaves costs its few bytes until a whole compile).
#[derive(Debug, Clone, Default)]
struct Labels {
    list: Vec<Box<[u8]>>,
    index: HashMap<Box<[u8]>, u32>,
}

impl Clone for Nodes {
    fn clone(&self) -> Self {
        Self {
            shards: self.shards.clone(),
            apex_len: self.apex_len,
            labels: self.labels.clone(),
        }
    }
}

/// The label of `key` directly under the apex (empty for the apex itself or a
/// name that is not below it).
fn top_label(key: &[u8], apex_len: usize) -> &[u8] {
    let Some(prefix) = key.len().checked_sub(apex_len) else {
        return &[];
    };
    let mut at = 0;
    while at < prefix {
        let len = usize::from(key[at]);
        let end = at + 1 + len;
        if len == 0 || end > prefix {
            return &[];
        }
        if end == prefix {
            return &key[at + 1..end];
        }
        at = end;
    }
    &[]
}

impl Nodes {
    /// Empty, sized for about `names` names.
    pub(crate) fn new(apex_len: usize, names: usize) -> Self {
        // About 64–128 names a shard: a profile change copies that many
        // entries, and every patch copies the table of shards (1,024 at 100k
        // profiles) — the two costs balance about here.
        let shards = (names / 128).clamp(16, 1 << 16).next_power_of_two();
        Self {
            shards: (0..shards).map(|_| Arc::new(Shard::new())).collect(),
            apex_len,
            labels: Arc::default(),
        }
    }

    /// The number of cluster label `label`, added when new.
    pub(crate) fn label_id(&mut self, label: &[u8]) -> u32 {
        if let Some(&id) = self.labels.index.get(label) {
            return id;
        }
        let labels = Arc::make_mut(&mut self.labels);
        let id = labels.list.len() as u32;
        labels.list.push(label.into());
        labels.index.insert(label.into(), id);
        id
    }

    /// Every cluster label, by number (for signing, which changes nodes
    /// while it reads labels).
    pub(crate) fn labels(&self) -> Vec<Box<[u8]>> {
        self.labels.list.clone()
    }

    /// Cluster label number `id` (empty if there is none such).
    pub(crate) fn label(&self, id: u32) -> &[u8] {
        self.labels.list.get(id as usize).map_or(&[], |l| l)
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        let mut h = Fnv::default();
        h.eat(top_label(key, self.apex_len));
        (h.finish() as usize) & (self.shards.len() - 1)
    }

    /// The node at `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Node> {
        self.shards[self.shard_of(key)].get(key).map(|n| &**n)
    }

    /// The shard holding `key`, for writing (copied first when shared).
    pub(crate) fn shard_mut(&mut self, key: &[u8]) -> &mut Shard {
        let i = self.shard_of(key);
        Arc::make_mut(&mut self.shards[i])
    }

    /// The node at `key`, inserted empty when missing. Only for a zone being
    /// built: it panics when the node is shared with another zone.
    pub(crate) fn entry(&mut self, key: Box<[u8]>) -> &mut Node {
        let node = self.shard_mut(&key).entry(key).or_default();
        Arc::get_mut(node).expect("nodes are changed only while their zone is built")
    }

    /// Every name and node.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Box<[u8]>, &Node)> {
        self.shards
            .iter()
            .flat_map(|s| s.iter().map(|(k, n)| (k, &**n)))
    }

    /// Every endpoint of the zone's profiles, each with its position.
    pub(crate) fn endpoint_keys(
        &self,
    ) -> impl Iterator<Item = (u32, crate::zone::EndpointKey<'_>)> + '_ {
        self.iter()
            .filter_map(|(_, n)| n.profile.as_ref())
            .flat_map(|p| p.endpoint_keys())
    }

    /// Every name and node, for writing: only for a zone just built, whose
    /// shards and nodes nothing else holds.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&Box<[u8]>, &mut Node)> {
        self.shards.iter_mut().flat_map(|s| {
            Arc::get_mut(s)
                .expect("a zone is signed while it is built")
                .iter_mut()
                .map(|(k, n)| {
                    (
                        k,
                        Arc::get_mut(n).expect("a zone is signed while it is built"),
                    )
                })
        })
    }

    /// Frees the spare capacity of every shard (after a full build).
    pub(crate) fn shrink_to_fit(&mut self) {
        for s in self.shards.iter_mut() {
            if let Some(s) = Arc::get_mut(s) {
                s.shrink_to_fit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::top_label;

    #[test]
    fn the_top_label_is_the_one_under_the_apex() {
        let apex = b"\x03gtm\x07example\x00";
        let name = |s: &[u8]| [s, apex].concat();
        assert_eq!(top_label(&name(b""), apex.len()), b"");
        assert_eq!(top_label(&name(b"\x03web"), apex.len()), b"web");
        assert_eq!(top_label(&name(b"\x07_health\x03web"), apex.len()), b"web");
        assert_eq!(
            top_label(&name(b"\x01c\x08_cluster\x03web"), apex.len()),
            b"web"
        );
        // Malformed or shorter than the apex: no label.
        assert_eq!(top_label(b"\x00", apex.len()), b"");
        assert_eq!(top_label(&name(b"\x09web"), apex.len()), b"");
    }
}
