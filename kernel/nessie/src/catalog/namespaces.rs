//! Namespaces as Nessie `NAMESPACE` content: list, create (parents first), update, drop.

use super::*;

impl NessieCatalog {
    pub(super) async fn namespaces_at_level(&self, parent: &[String]) -> Vec<String> {
        let filter = format!(
            "entry.contentType == 'NAMESPACE' && size(entry.keyElements) == {}",
            parent.len() + 1
        );
        match self.client().entries(&self.read_ref(), &filter).await {
            Ok(entries) => {
                let mut v: Vec<String> = entries
                    .into_iter()
                    .filter(|e| e.name.elements.starts_with(parent))
                    .map(|e| dotted(&e.name.elements))
                    .collect();
                v.sort();
                v
            }
            Err(_) => vec![],
        }
    }

    pub(super) async fn namespace_not_found(&self, ns: &NamespaceIdent) -> NessieError {
        let parent: Vec<String> = ns.parent().map(|p| p.inner()).unwrap_or_default();
        NessieError::NamespaceNotFound {
            namespace: dotted(ns),
            reference: self.describe_ref(),
            existing: self.namespaces_at_level(&parent).await,
        }
    }

    pub(super) async fn do_list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> Result<Vec<NamespaceIdent>> {
        let prefix: Vec<String> = parent.map(|p| p.clone().inner()).unwrap_or_default();
        let n = prefix.len();
        let filter = if n == 0 {
            "entry.contentType == 'NAMESPACE' && size(entry.keyElements) == 1".to_string()
        } else {
            format!(
                "entry.contentType == 'NAMESPACE' && (size(entry.keyElements) == {} || size(entry.keyElements) == {n})",
                n + 1
            )
        };
        let entries = match self.client().entries(&self.read_ref(), &filter).await {
            Ok(e) => e,
            Err(e) => return Err(self.fail(e).await),
        };
        let mut parent_found = n == 0;
        let mut out = vec![];
        for e in entries {
            let el = e.name.elements;
            if el.len() == n && el == prefix {
                parent_found = true;
            } else if el.len() == n + 1 && el.starts_with(&prefix) {
                out.push(NamespaceIdent::from_vec(el)?);
            }
        }
        if !parent_found {
            return Err(self
                .namespace_not_found(&NamespaceIdent::from_vec(prefix)?)
                .await);
        }
        out.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
        Ok(out)
    }

    pub(super) async fn do_create_namespace(
        &self,
        ns: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<Namespace> {
        check_namespace(ns)?;
        let name = dotted(ns);
        let action = format!("CREATE NAMESPACE {name}");
        let levels: &[String] = &ns[..];
        let keys: Vec<ContentKey> = (1..=levels.len())
            .map(|i| ContentKey {
                elements: levels[..i].to_vec(),
            })
            .collect();
        let (contents, eff) = self.contents(&keys).await?;
        let head = self.writable(&action, &eff)?;
        let own = keys.last().expect("namespace has a level");
        if let Some(existing) = contents.get(own) {
            return Err(NessieError::AlreadyExists {
                what: format!("namespace {name}"),
                reference: self.describe_ref(),
                existing: format!("a {}", existing.kind_name()),
            });
        }
        let ops: Vec<Operation> = keys
            .iter()
            .filter(|k| !contents.contains_key(*k))
            .map(|k| Operation::Put {
                key: k.clone(),
                content: Content::Namespace {
                    id: None,
                    elements: k.elements.clone(),
                    properties: if k == own {
                        properties.clone()
                    } else {
                        HashMap::new()
                    },
                },
            })
            .collect();
        match self.commit(&head, action, &[], &ops).await {
            Ok(_) => Ok(Namespace::with_properties(ns.clone(), properties)),
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => Err(NessieError::AlreadyExists {
                what: format!("namespace {name}"),
                reference: self.describe_ref(),
                existing: "created by a concurrent commit".to_string(),
            }),
            Err(e) => Err(self.fail(e).await),
        }
    }

    pub(super) async fn namespace_content(
        &self,
        ns: &NamespaceIdent,
    ) -> Result<(Option<String>, HashMap<String, String>, String)> {
        let key = ns_key(ns);
        let (contents, eff) = self.contents(std::slice::from_ref(&key)).await?;
        match contents.get(&key) {
            Some(Content::Namespace { id, properties, .. }) => {
                Ok((id.clone(), properties.clone(), eff))
            }
            _ => Err(self.namespace_not_found(ns).await),
        }
    }

    pub(super) async fn do_update_namespace(
        &self,
        ns: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> Result<()> {
        let name = dotted(ns);
        let action = format!("ALTER NAMESPACE {name} SET PROPERTIES");
        for attempt in 1..=MAX_COMMIT_ATTEMPTS {
            let (id, _, eff) = self.namespace_content(ns).await?;
            let head = self.writable(&action, &eff)?;
            let ops = [Operation::Put {
                key: ns_key(ns),
                content: Content::Namespace {
                    id,
                    elements: ns.clone().inner(),
                    properties: properties.clone(),
                },
            }];
            match self.commit(&head, action.clone(), &[], &ops).await {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.status() == Some(StatusCode::CONFLICT)
                        && attempt < MAX_COMMIT_ATTEMPTS => {}
                Err(e) => return Err(self.fail(e).await),
            }
        }
        unreachable!("the last attempt returns")
    }

    pub(super) async fn do_drop_namespace(&self, ns: &NamespaceIdent) -> Result<()> {
        let name = dotted(ns);
        let action = format!("DROP NAMESPACE {name}");
        let (_, _, eff) = self.namespace_content(ns).await?;
        let head = self.writable(&action, &eff)?;
        match self
            .commit(&head, action, &[], &[Operation::Delete { key: ns_key(ns) }])
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                let n = ns.len();
                let filter = format!("size(entry.keyElements) > {n}");
                let prefix: &[String] = &ns[..];
                let contents = match self.client().entries(&self.reference, &filter).await {
                    Ok(entries) => {
                        let mut v: Vec<String> = entries
                            .into_iter()
                            .filter(|e| e.name.elements.starts_with(prefix))
                            .map(|e| dotted(&e.name.elements))
                            .collect();
                        v.sort();
                        v
                    }
                    Err(_) => vec![],
                };
                Err(NessieError::NamespaceNotEmpty {
                    namespace: name,
                    reference: self.describe_ref(),
                    contents,
                })
            }
            Err(e) => Err(self.fail(e).await),
        }
    }
}
