//! The in-memory index of a pair's status rows.

use std::collections::HashMap;

use calport_core::ItemRef;
use calport_state::ItemStatus;

/// The in-memory view of a pair's status rows, kept in step with the database.
#[derive(Default)]
pub(super) struct Known {
    pub(super) by_uid: HashMap<String, ItemStatus>,
    pub(super) by_src: HashMap<ItemRef, Vec<String>>,
    pub(super) by_dst: HashMap<ItemRef, String>,
}

impl Known {
    pub(super) fn from_rows(rows: Vec<ItemStatus>) -> Self {
        let mut known = Known::default();
        for row in rows {
            known.index(&row);
            known.by_uid.insert(row.uid.clone(), row);
        }
        known
    }

    fn index(&mut self, row: &ItemStatus) {
        if let Some(src) = &row.src {
            let uids = self.by_src.entry(src.href.clone()).or_default();
            if !uids.contains(&row.uid) {
                uids.push(row.uid.clone());
            }
        }
        if let Some(dst) = &row.dst {
            self.by_dst.insert(dst.href.clone(), row.uid.clone());
        }
    }

    fn unindex(&mut self, uid: &str) {
        if let Some(old) = self.by_uid.get(uid) {
            if let Some(src) = &old.src
                && let Some(uids) = self.by_src.get_mut(&src.href)
            {
                uids.retain(|u| u != uid);
                if uids.is_empty() {
                    self.by_src.remove(&src.href);
                }
            }
            if let Some(dst) = &old.dst
                && self.by_dst.get(&dst.href).map(String::as_str) == Some(uid)
            {
                self.by_dst.remove(&dst.href);
            }
        }
    }

    pub(super) fn put(&mut self, row: ItemStatus) {
        self.unindex(&row.uid);
        self.index(&row);
        self.by_uid.insert(row.uid.clone(), row);
    }

    pub(super) fn remove(&mut self, uid: &str) {
        self.unindex(uid);
        self.by_uid.remove(uid);
    }
}
