//! Splitting a multi-document YAML file and pointing at lines inside it.
//!
//! serde_yaml reports parse errors with a line inside one document; semantic
//! errors found later only know a field path. [`Doc::line_of`] maps a field path
//! back to the line where that key is written, so every diagnostic can name a line.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::Location;

/// One YAML document of a file.
#[derive(Clone)]
pub struct Doc {
    /// The file the document is in (`kubernetes:<cluster>` for an object read from a cluster).
    pub file: Arc<Path>,
    /// One-based ordinal among the non-empty documents of the file.
    pub index: usize,
    /// One-based line where the document's text begins.
    pub start_line: usize,
    /// The whole file's text, shared by all its documents (a large file is not
    /// copied once more per document); empty for an object read from a cluster.
    pub source: Arc<str>,
    /// Where the document's text is in `source`, without its separator line.
    /// Not shown by `Debug`: it may hold anything a user pasted, an inline secret
    /// included.
    pub span: Range<usize>,
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doc")
            .field("file", &self.file)
            .field("index", &self.index)
            .field("start_line", &self.start_line)
            .field("text", &format_args!("<{} bytes>", self.span.len()))
            .finish()
    }
}

/// Splits `source` at `---` separator lines. Documents holding only comments and
/// blank lines are skipped (they are not counted either).
pub fn split(file: &Arc<Path>, source: &Arc<str>) -> Vec<Doc> {
    let mut docs = Vec::new();
    let text: &str = source;
    let mut span_start = 0;
    let mut start_line = 1;
    let push = |span: Range<usize>, start_line: usize, docs: &mut Vec<Doc>| {
        let has_content = text[span.clone()].lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        });
        if has_content {
            docs.push(Doc {
                file: file.clone(),
                index: docs.len() + 1,
                start_line,
                source: source.clone(),
                span,
            });
        }
    };
    let mut offset = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += raw.len();
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let is_separator = line == "---"
            || line.starts_with("--- ")
            || line.starts_with("---\t")
            || line == "..."
            || line.starts_with("... ");
        if !is_separator {
            continue;
        }
        push(span_start..line_start, start_line, &mut docs);
        start_line = i + 2;
        span_start = offset;
        // Content after `--- ` on the same line belongs to the new document.
        if let Some(rest) = line.strip_prefix("--- ") {
            if !rest.trim().is_empty() && !rest.trim_start().starts_with('#') {
                start_line = i + 1;
                span_start = line_start + 4;
            }
        }
    }
    push(span_start..text.len(), start_line, &mut docs);
    docs
}

impl Doc {
    /// A document with no text (an object read from a cluster, not a file).
    pub fn without_text(file: Arc<Path>) -> Self {
        Self {
            file,
            index: 1,
            start_line: 1,
            source: Arc::from(""),
            span: 0..0,
        }
    }

    /// The document's text, without its separator line.
    pub fn text(&self) -> &str {
        &self.source[self.span.clone()]
    }

    /// A location at the document start.
    pub fn location(&self) -> Location {
        Location {
            file: self.file.to_path_buf(),
            document: Some(self.index),
            line: Some(self.start_line),
        }
    }

    /// A location at the line of the field `path` (keys from the root), or at the
    /// deepest parent found.
    pub fn location_of(&self, path: &[&str]) -> Location {
        Location {
            line: Some(self.line_of(path)),
            ..self.location()
        }
    }

    /// A location at a line relative to the document (one-based), as serde_yaml reports it.
    pub fn location_at(&self, relative_line: usize) -> Location {
        Location {
            line: Some(self.start_line + relative_line.saturating_sub(1)),
            ..self.location()
        }
    }

    /// One-based file line where the key at `path` is written. Keys are matched in
    /// order, each deeper than the previous; list markers (`- `) count as indent.
    /// Falls back to the deepest key found, then to the document start.
    pub fn line_of(&self, path: &[&str]) -> usize {
        let mut line_no = self.start_line;
        let mut min_indent: isize = -1;
        let segments = path.iter().filter(|s| !s.is_empty());
        let lines: Vec<&str> = self.text().lines().collect();
        let mut i = 0;
        'segments: for seg in segments {
            while i < lines.len() {
                let raw = lines[i];
                i += 1;
                let stripped = raw.trim_start();
                let mut indent = (raw.len() - stripped.len()) as isize;
                let mut body = stripped;
                while let Some(rest) = body.strip_prefix("- ") {
                    indent += 2;
                    body = rest.trim_start();
                }
                if indent <= min_indent && !body.is_empty() && !body.starts_with('#') {
                    // Left the parent's block without finding the key.
                    break 'segments;
                }
                let key = body
                    .split_once(':')
                    .map(|(k, _)| k.trim().trim_matches('"').trim_matches('\''));
                if key == Some(*seg) {
                    line_no = self.start_line + i - 1;
                    min_indent = indent;
                    continue 'segments;
                }
            }
            break;
        }
        line_no
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<Path> {
        Arc::from(Path::new("f.yaml"))
    }

    #[test]
    fn splits_and_counts_lines() {
        let text = "# header\n---\na: 1\n---\n# only comment\n---\nb:\n  c: 2\n";
        let docs = split(&file(), &Arc::from(text));
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].index, docs[0].start_line), (1, 3));
        assert_eq!((docs[1].index, docs[1].start_line), (2, 7));
        assert_eq!(docs[1].line_of(&["b", "c"]), 8);
    }

    #[test]
    fn finds_nested_keys_and_list_items() {
        let text = "spec:\n  resourceGroup: x\n  monitorConfig:\n    port: 80\n    customHeaders:\n    - name: Host\n      value: h\nmetadata:\n  annotations:\n    networking.fleet.azure.com/weight: \"5\"\n";
        let docs = split(&file(), &Arc::from(text));
        let d = &docs[0];
        assert_eq!(d.line_of(&["spec", "monitorConfig", "port"]), 4);
        assert_eq!(
            d.line_of(&["spec", "monitorConfig", "customHeaders", "name"]),
            6
        );
        assert_eq!(
            d.line_of(&[
                "metadata",
                "annotations",
                "networking.fleet.azure.com/weight"
            ]),
            10
        );
        // Missing key: deepest parent.
        assert_eq!(d.line_of(&["spec", "monitorConfig", "path"]), 3);
    }
}
