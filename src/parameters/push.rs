//! The push itself, over any [`Store`]: read every parameter first, then write only those whose
//! value (or type) differs, and say per parameter what happened. Reading first keeps reruns
//! cheap and quiet (a parameter's history gets a new version only on a real change) and is what
//! lets a rerun report `unchanged`.

use std::collections::BTreeMap;

use crate::secret::SecretString;

use super::error::PushError;
use super::resolve::{Parameter, Plan};

/// What a parameter holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub value: SecretString,
    /// `SecureString` (encrypted with KMS); a plain `String` is rewritten as one.
    pub secure: bool,
}

/// A Parameter Store: the two calls a push needs.
#[allow(async_fn_in_trait)] // used with concrete types only; no Send bound is needed
pub trait Store {
    /// The current values of those of `names` that exist (decrypted), by name.
    async fn current(&self, names: &[String]) -> Result<BTreeMap<String, Current>, PushError>;

    /// Writes `value` as a `SecureString`. `overwrite: false` creates only: a parameter that
    /// appeared since it was read is an error, not silently replaced.
    async fn put(&self, name: &str, value: &SecretString, overwrite: bool)
    -> Result<(), PushError>;
}

/// What a push did to one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// Pushes `plan` to `store`, calling `report` after each parameter (so what was done before a
/// failure has been said). Returns the outcomes in plan order.
pub async fn push(
    store: &impl Store,
    plan: &Plan,
    report: &mut (dyn FnMut(&Parameter, Outcome) + Send),
) -> Result<Vec<Outcome>, PushError> {
    let names: Vec<String> = plan.parameters.iter().map(|p| p.name.clone()).collect();
    let current = store.current(&names).await?;
    let mut outcomes = Vec::with_capacity(names.len());
    for p in &plan.parameters {
        let outcome = match current.get(&p.name) {
            None => {
                store.put(&p.name, &p.value, false).await?;
                Outcome::Created
            }
            Some(c) if c.secure && c.value == p.value => Outcome::Unchanged,
            Some(_) => {
                store.put(&p.name, &p.value, true).await?;
                Outcome::Updated
            }
        };
        report(p, outcome);
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// An in-memory store that records the writes it was asked for.
    #[derive(Default)]
    struct Memory {
        params: RefCell<BTreeMap<String, Current>>,
        writes: RefCell<Vec<(String, bool)>>,
    }

    impl Store for Memory {
        async fn current(&self, names: &[String]) -> Result<BTreeMap<String, Current>, PushError> {
            let p = self.params.borrow();
            Ok(names
                .iter()
                .filter_map(|n| p.get(n).map(|c| (n.clone(), c.clone())))
                .collect())
        }

        async fn put(
            &self,
            name: &str,
            value: &SecretString,
            overwrite: bool,
        ) -> Result<(), PushError> {
            self.writes.borrow_mut().push((name.to_string(), overwrite));
            self.params.borrow_mut().insert(
                name.to_string(),
                Current {
                    value: value.clone(),
                    secure: true,
                },
            );
            Ok(())
        }
    }

    fn plan(values: &[(&str, &str)]) -> Plan {
        Plan {
            prefix: "/p".into(),
            parameters: values
                .iter()
                .map(|(n, v)| Parameter {
                    name: n.to_string(),
                    value: SecretString::new(*v),
                    from: vec![],
                })
                .collect(),
            skipped: vec![],
        }
    }

    fn run(store: &Memory, plan: &Plan) -> Vec<Outcome> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(push(store, plan, &mut |_, _| {})).unwrap()
    }

    #[test]
    fn creates_then_leaves_alone_then_updates_only_what_changed() {
        use Outcome::*;
        let store = Memory::default();
        assert_eq!(
            run(&store, &plan(&[("/p/a", "1"), ("/p/b", "2")])),
            [Created, Created]
        );
        assert_eq!(
            *store.writes.borrow(),
            [("/p/a".into(), false), ("/p/b".into(), false)]
        );
        store.writes.borrow_mut().clear();
        assert_eq!(
            run(&store, &plan(&[("/p/a", "1"), ("/p/b", "2")])),
            [Unchanged, Unchanged]
        );
        assert!(store.writes.borrow().is_empty());
        assert_eq!(
            run(&store, &plan(&[("/p/a", "1"), ("/p/b", "3")])),
            [Unchanged, Updated]
        );
        assert_eq!(*store.writes.borrow(), [("/p/b".into(), true)]);
    }

    #[test]
    fn a_plain_string_with_the_same_value_is_rewritten_as_secure() {
        let store = Memory::default();
        store.params.borrow_mut().insert(
            "/p/a".into(),
            Current {
                value: SecretString::new("1"),
                secure: false,
            },
        );
        assert_eq!(run(&store, &plan(&[("/p/a", "1")])), [Outcome::Updated]);
        assert!(store.params.borrow()["/p/a"].secure);
    }
}
