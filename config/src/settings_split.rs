//! Re-parsing a large settings document one Service entry at a time.
//!
//! At 100k profiles the settings document lists 300,000 Services under
//! `spec.clusters[].services` (20 MB of YAML, about a second to parse), and a
//! Service's address is the thing most often edited. So the document's text is
//! read as a *skeleton* (everything but the block lists of Services, each
//! replaced by a placeholder) plus each list's entries; a reload parses the
//! skeleton and only the entries whose text changed, and takes every other
//! entry from the last parse. Anything this reading is not sure of (no block
//! list, a comment or blank line inside one, an unusual indentation, an entry
//! or skeleton that does not parse on its own, a placeholder not found exactly
//! once in a cluster) makes the caller parse the whole document as before, so
//! the result, and for broken input every diagnostic, is a whole parse's.

use std::hash::BuildHasher;

use crate::settings::{self, ServiceSpec, SettingsDocument};

/// Per cluster of a parsed settings document: a hash of each of its Services'
/// entry texts, in order (`None`: the list was not a block list).
pub(crate) type ServiceIndex = Vec<Option<Vec<u64>>>;

/// The namespace of a placeholder entry (no Kubernetes namespace has a colon).
const PLACEHOLDER: &str = "fleetdns:services-block:";

/// A settings document's text, split.
struct Split<'a> {
    /// The text with each block list replaced by one placeholder entry.
    skeleton: String,
    /// Each block list's entries: the entry's text and its `- ` column.
    blocks: Vec<Vec<(&'a str, usize)>>,
}

/// Leading spaces of `line`.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn split(text: &str) -> Option<Split<'_>> {
    if text.contains('\r') || text.contains('\t') {
        return None;
    }
    let mut skeleton = String::with_capacity(4096);
    let mut blocks: Vec<Vec<(&str, usize)>> = Vec::new();
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let body = line.trim_end_matches('\n');
        let key = body.trim_start_matches(' ');
        let key = key
            .strip_prefix("- ")
            .map_or(key, |k| k.trim_start_matches(' '));
        if key != "services:" {
            skeleton.push_str(line);
            continue;
        }
        let key_col = body.len() - key.len();
        let mut items: Vec<(&str, usize)> = Vec::new();
        let mut item_col = None;
        let start_of = |l: &str| l.as_ptr() as usize - text.as_ptr() as usize;
        while let Some(next) = lines.peek() {
            let t = next.trim_end_matches('\n');
            let col = indent(t);
            let rest = &t[col..];
            if rest.is_empty() || rest.starts_with('#') {
                return None;
            }
            let is_item = rest == "-" || rest.starts_with("- ");
            match item_col {
                None if col >= key_col && is_item => item_col = Some(col),
                None => return None,
                Some(c) if col > c => {
                    // A continuation line of the current entry.
                    let (first, _) = items.last()?;
                    let end = start_of(next) + next.len();
                    items.last_mut()?.0 = &text[start_of(first)..end];
                    lines.next();
                    continue;
                }
                Some(c) if col == c && is_item => {}
                Some(_) if col <= key_col => break,
                Some(_) => return None,
            }
            items.push((next, item_col?));
            lines.next();
        }
        if items.is_empty() {
            return None;
        }
        skeleton.push_str(body);
        skeleton.push_str(&format!(
            " [{{namespace: \"{PLACEHOLDER}{}\", name: \"\", loadBalancer: []}}]\n",
            blocks.len()
        ));
        blocks.push(items);
    }
    Some(Split { skeleton, blocks })
}

/// An entry's text as a document of its own: the `- ` and the indentation of
/// its list taken off every line.
fn entry_text(raw: &str, col: usize) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for (i, line) in raw.split_inclusive('\n').enumerate() {
        let cut = col + 2;
        if i == 0 {
            let rest = line.get(col..)?.strip_prefix('-')?;
            out.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        } else {
            if !line.get(..cut)?.bytes().all(|b| b == b' ') {
                return None;
            }
            out.push_str(&line[cut..]);
        }
    }
    Some(out)
}

/// Which cluster each block list belongs to: `None` unless every block's
/// placeholder is the whole Services list of exactly one cluster.
fn clusters_of_blocks(doc: &SettingsDocument, blocks: usize) -> Option<Vec<usize>> {
    let mut of = vec![None; blocks];
    for (c, cluster) in doc.spec.clusters.iter().enumerate() {
        for s in &cluster.services {
            let Some(k) = s.namespace.strip_prefix(PLACEHOLDER) else {
                continue;
            };
            let k: usize = k.parse().ok()?;
            if cluster.services.len() != 1 || of.get(k)?.is_some() {
                return None;
            }
            of[k] = Some(c);
        }
    }
    of.into_iter().collect()
}

/// The hashes of a whole-parsed document's Service entries (for the next
/// reload), if its text splits and matches `doc`.
pub(crate) fn index(
    text: &str,
    doc: &SettingsDocument,
    hasher: &impl BuildHasher,
) -> Option<ServiceIndex> {
    let split = split(text)?;
    let skeleton: SettingsDocument = serde_yaml::from_str(&split.skeleton).ok()?;
    let of = clusters_of_blocks(&skeleton, split.blocks.len())?;
    let mut index: ServiceIndex = vec![None; doc.spec.clusters.len()];
    for (items, c) in split.blocks.iter().zip(of) {
        if doc.spec.clusters.get(c)?.services.len() != items.len() {
            return None;
        }
        *index.get_mut(c)? = Some(items.iter().map(|(t, _)| hasher.hash_one(t)).collect());
    }
    Some(index)
}

/// Parses the settings document `text`, taking every Service entry whose text
/// is unchanged from `old` (the last parse and its index; `None` on a first
/// load, when every entry is parsed); also returns how many entries were
/// parsed. `None`: parse the whole document instead.
///
/// Parsed so, no buffer of the whole document's YAML events exists (serde_yaml
/// reads a document's events into memory before decoding it: at 300,000
/// Services that is about half a gigabyte), and the entries are parsed on
/// every core.
pub(crate) fn parse(
    text: &str,
    old: Option<(&SettingsDocument, &ServiceIndex)>,
    hasher: &impl BuildHasher,
) -> Option<(SettingsDocument, ServiceIndex, usize)> {
    let split = split(text)?;
    let mut doc: SettingsDocument = serde_yaml::from_str(&split.skeleton).ok()?;
    if doc.api_version != settings::API_VERSION || doc.kind != settings::KIND {
        return None;
    }
    let of = clusters_of_blocks(&doc, split.blocks.len())?;
    let mut index: ServiceIndex = vec![None; doc.spec.clusters.len()];
    let mut parsed = 0;
    for (items, c) in split.blocks.iter().zip(of) {
        let hashes: Vec<u64> = items.iter().map(|(t, _)| hasher.hash_one(t)).collect();
        let empty = (&[][..], &[][..]);
        let (was, was_hashes) = match old.map(|(d, i)| (d.spec.clusters.get(c), i.get(c))) {
            Some((Some(o), Some(Some(h)))) if o.services.len() == h.len() => {
                (&o.services[..], &h[..])
            }
            _ => empty,
        };
        // Unchanged entries are the common head and tail of the two lists.
        let head = hashes
            .iter()
            .zip(was_hashes)
            .take_while(|(a, b)| a == b)
            .count();
        let tail = hashes[head..]
            .iter()
            .rev()
            .zip(was_hashes[head..].iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let fresh = &items[head..items.len() - tail];
        parsed += fresh.len();
        let mut services: Vec<ServiceSpec> = Vec::with_capacity(items.len());
        services.extend_from_slice(&was[..head]);
        parse_entries(fresh, &mut services)?;
        services.extend_from_slice(&was[was.len() - tail..]);
        doc.spec.clusters.get_mut(c)?.services = services;
        index[c] = Some(hashes);
    }
    Some((doc, index, parsed))
}

/// Below this many entries, they are parsed on this thread alone.
const THREADS_FROM: usize = 4096;

/// Parses each entry on its own (on every core, for many) onto `out`; `None`
/// if any fails.
fn parse_entries(items: &[(&str, usize)], out: &mut Vec<ServiceSpec>) -> Option<()> {
    let one = |(raw, col): &(&str, usize)| -> Option<ServiceSpec> {
        serde_yaml::from_str(&entry_text(raw, *col)?).ok()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < THREADS_FROM {
        for item in items {
            out.push(one(item)?);
        }
        return Some(());
    }
    let per = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(per)
            .map(|part| s.spawn(move || part.iter().map(one).collect::<Option<Vec<_>>>()))
            .collect();
        for part in parts {
            match part.join() {
                Ok(part) => out.extend(part?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Some(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::RandomState;

    const HEAD: &str = "apiVersion: fleetdns.io/v1alpha1\nkind: FleetDNSConfig\nspec:\n  zone: s.test\n  clusters:\n";

    fn whole(text: &str) -> SettingsDocument {
        serde_yaml::from_str(text).expect("valid")
    }

    /// Splits and re-parses `text` against its own whole parse, with `edited`
    /// as the new text: the result is `edited`'s whole parse.
    fn reparse(text: &str, edited: &str) -> Option<(SettingsDocument, usize)> {
        let h = RandomState::new();
        let old = whole(text);
        let index = index(text, &old, &h)?;
        let (doc, _, parsed) = parse(edited, Some((&old, &index)), &h)?;
        assert_eq!(doc, whole(edited));
        Some((doc, parsed))
    }

    #[test]
    fn block_lists_in_both_styles_reparse_only_changed_entries() {
        let text = format!("{HEAD}    - name: a\n      services:\n        - {{namespace: n, name: x, loadBalancer: [10.0.0.1]}}\n        - namespace: n\n          name: y\n          loadBalancer:\n          - 10.0.0.2\n    - services:\n      - {{namespace: n, name: x, loadBalancer: [10.0.0.3]}}\n      name: b\n");
        let edited = text.replace("10.0.0.2", "10.0.0.9");
        assert_eq!(reparse(&text, &edited).map(|r| r.1), Some(1));
        let added = text.replace(
            "      name: b\n",
            "      - {namespace: n, name: z, loadBalancer: [10.0.0.4]}\n      name: b\n",
        );
        assert_eq!(reparse(&text, &added).map(|r| r.1), Some(1));
        assert_eq!(reparse(&text, &text).map(|r| r.1), Some(0));
    }

    #[test]
    fn entries_at_the_keys_indentation_are_a_list() {
        let text = format!("{HEAD}  - name: a\n    services:\n    - {{namespace: n, name: x, loadBalancer: [10.0.0.1]}}\n    labels: {{k: v}}\n");
        let edited = text.replace("10.0.0.1", "10.0.0.2");
        assert_eq!(reparse(&text, &edited).map(|r| r.1), Some(1));
    }

    #[test]
    fn unsure_texts_are_parsed_whole() {
        // A comment inside a list; a services key inside a string.
        let text = format!("{HEAD}    - name: a\n      services:\n        # c\n        - {{namespace: n, name: x, loadBalancer: [10.0.0.1]}}\n");
        assert!(reparse(&text, &text).is_none(), "{text}");
        let tricky = "apiVersion: fleetdns.io/v1alpha1\nkind: FleetDNSConfig\nmetadata:\n  note: |\n    services:\n    - a\nspec:\n  zone: s.test\n";
        assert!(split(tricky).is_some());
        let h = RandomState::new();
        assert!(index(tricky, &whole(tricky), &h).is_none());
    }

    #[test]
    fn flow_lists_stay_in_the_skeleton() {
        let text = format!("{HEAD}    - name: a\n      services: [{{namespace: n, name: x, loadBalancer: [10.0.0.1]}}]\n");
        let edited = text.replace("10.0.0.1", "10.0.0.2");
        assert_eq!(reparse(&text, &edited).map(|r| r.1), Some(0));
    }

    /// Documents a first load parses entry by entry (`true`) or must read
    /// whole (`false`): either way the result is the whole parse's.
    const TABLE: &[(&str, bool)] = &[
        ("    - name: a\n      services:\n        - {namespace: n, name: x, loadBalancer: [10.0.0.1]}\n        - namespace: n\n          name: y\n          loadBalancer:\n          - 10.0.0.2\n          - \"2001:db8::1\"\n          internalLoadBalancer: true\n    - services:\n      - {namespace: n, name: x, loadBalancer: [h.example], publicIPResourceID: \"/subscriptions/s/x\"}\n      name: b\n      labels: {fleet.azure.com/location: eastus}\n", true),
        ("  - name: a\n    services:\n    - {namespace: 'n', name: \"x\", loadBalancer: [10.0.0.1]}\n    - {namespace: n, name: \"y # not a comment\", loadBalancer: [10.0.0.2]}\n  - name: b\n    services: []\n", true),
        // An alias of an anchor in another entry: only the whole document knows it.
        ("    - name: a\n      services:\n        - {namespace: &ns n, name: x, loadBalancer: [10.0.0.1]}\n        - {namespace: *ns, name: y, loadBalancer: [10.0.0.2]}\n", false),
        // A comment, a blank line inside the list.
        ("    - name: a\n      services:\n        # c\n        - {namespace: n, name: x, loadBalancer: [10.0.0.1]}\n", false),
        ("    - name: a\n      services:\n        - {namespace: n, name: x, loadBalancer: [10.0.0.1]}\n\n        - {namespace: n, name: y, loadBalancer: [10.0.0.1]}\n", false),
        // The Services key twice in one cluster: the whole parse's error.
        ("    - name: a\n      services:\n        - {namespace: n, name: x, loadBalancer: [10.0.0.1]}\n      services:\n        - {namespace: n, name: y, loadBalancer: [10.0.0.1]}\n", false),
        // A block scalar holding a services line.
        ("    - name: a\n      labels:\n        note: |\n          services:\n          - x\n      services:\n        - {namespace: n, name: x, loadBalancer: [10.0.0.1]}\n", false),
    ];

    #[test]
    fn a_first_load_split_gives_the_whole_parse() {
        let h = RandomState::new();
        for (body, splits) in TABLE {
            let text = format!("{HEAD}{body}");
            let cold = parse(&text, None, &h);
            assert_eq!(cold.is_some(), *splits, "{text}");
            let whole: Result<SettingsDocument, _> = serde_yaml::from_str(&text);
            if let Some((doc, index, parsed)) = cold {
                assert_eq!(
                    Ok(&doc),
                    whole.as_ref().map_err(ToString::to_string),
                    "{text}"
                );
                let entries: usize = doc.spec.clusters.iter().map(|c| c.services.len()).sum();
                assert_eq!(parsed, entries, "{text}");
                assert_eq!(Some(index), self::index(&text, &doc, &h), "{text}");
            }
        }
    }

    #[test]
    fn many_entries_are_parsed_on_threads_in_order() {
        let mut text = format!("{HEAD}    - name: a\n      services:\n");
        for i in 0..THREADS_FROM + 7 {
            text.push_str(&format!(
                "        - {{namespace: n, name: s{i}, loadBalancer: [\"10.0.{}.{}\"]}}\n",
                i / 250,
                i % 250
            ));
        }
        let h = RandomState::new();
        let (doc, _, parsed) = parse(&text, None, &h).expect("splits");
        assert_eq!(parsed, THREADS_FROM + 7);
        assert_eq!(doc, whole(&text));
        // One broken entry (an unknown field) anywhere: nothing is split.
        let broken = text.replace("name: s4000,", "name: s4000, color: red,");
        assert!(parse(&broken, None, &h).is_none());
    }
}
