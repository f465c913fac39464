//! What every extension, match or target, shares: the table of its options
//! ([`OptSpec`], written with the `opt!` macro), which of them a rule gave
//! ([`Seen`]), and the verbatim form of an extension this engine does not
//! model ([`UnknownExt`]).
//!
//! The extensions themselves are in [`crate::ruleset::matches`] and
//! [`crate::ruleset::targets`]; reading their options from the command line
//! is [`crate::ruleset::argv`]'s job. Nothing here parses or evaluates.

use serde::Serialize;

/// How an option of an extension is spelled and whether it takes an argument.
#[derive(Clone, Copy, Debug)]
pub struct OptSpec {
    pub name: &'static str,
    pub has_arg: bool,
    /// Whether `!` may precede it.
    pub invertible: bool,
}

/// An option spec as a struct literal, so that option tables are promoted to
/// statics: `opt!(NAME, HAS_ARG, INVERTIBLE)`, or `opt!(NAME, HAS_ARG)` for an
/// option `!` may not precede (every target option).
macro_rules! opt {
    ($name:expr, $arg:expr, $inv:expr) => {
        $crate::ruleset::ext::OptSpec {
            name: $name,
            has_arg: $arg,
            invertible: $inv,
        }
    };
    ($name:expr, $arg:expr) => {
        $crate::ruleset::ext::OptSpec {
            name: $name,
            has_arg: $arg,
            invertible: false,
        }
    };
}
pub(crate) use opt;

/// Which options of an extension a rule gave: bit i is the extension's option i.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    pub mask: u64,
    pub options: &'static [OptSpec],
}

impl Seen {
    pub fn is_empty(&self) -> bool {
        self.mask == 0
    }
    pub fn has(&self, name: &str) -> bool {
        self.options
            .iter()
            .enumerate()
            .any(|(i, o)| self.mask & (1 << i) != 0 && o.name == name)
    }
}

/// An extension this engine does not model: its name and its option groups,
/// each exactly as written in the source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnknownExt {
    pub name: String,
    pub args: Vec<String>,
}
