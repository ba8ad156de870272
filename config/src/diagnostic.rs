//! Diagnostics: where a problem in the input is and what would be accepted.
//!
//! Every error an operator sees names the file, the YAML document (index and line),
//! the object (`Kind namespace/name`) and the field, and says what is allowed. The
//! same type carries warnings and notes (ignored documents) so `fleetdns check`
//! can print them all in one list.

use std::fmt;
use std::path::PathBuf;

/// How bad a diagnostic is. Any `Error` rejects the whole input (the last good
/// state keeps serving); warnings and notes are reported and the input is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational, e.g. a document of a kind fleetdns does not use.
    Note,
    /// Suspicious but served.
    Warning,
    /// The input is rejected.
    Error,
}

/// Where in the input a diagnostic points.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// The file (or a label such as `<kubernetes>` for other sources).
    pub file: PathBuf,
    /// One-based index of the YAML document in the file ([`crate::document::Doc::index`]).
    pub document: Option<usize>,
    /// One-based line of the field (or of the document start when the field is not found).
    pub line: Option<usize>,
}

/// One finding about the input.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// Where it is in the input.
    pub location: Location,
    /// The object, as `Kind namespace/name` (or `Kind name`), when known.
    pub object: Option<String>,
    /// The field path inside the object, e.g. `spec.monitorConfig.intervalInSeconds`.
    pub field: Option<String>,
    /// What is wrong and what would be accepted.
    pub message: String,
}

impl Diagnostic {
    /// An error at `location`.
    pub fn error(location: Location, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            location,
            object: None,
            field: None,
            message: message.into(),
        }
    }

    /// Sets the object this diagnostic is about.
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }

    /// Sets the field path this diagnostic is about.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Changes the severity.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Whether this is an [`Severity::Error`], which rejects the input.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        write!(f, "{sev}: {}", self.location.file.display())?;
        if let Some(line) = self.location.line {
            write!(f, ":{line}")?;
        }
        if let Some(doc) = self.location.document {
            write!(f, " (document {doc})")?;
        }
        if let Some(object) = &self.object {
            write!(f, ": {object}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A list of diagnostics; the input is rejected when any is an error.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// Whether any diagnostic is an error, i.e. the input is rejected.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// The errors only, in the order found.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    /// Every diagnostic, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// Whether there is no diagnostic at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
