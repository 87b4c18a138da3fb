//! The members of an [`AnyValue::Object`]: [`AnyMap`] and its
//! iterators.
//!
//! [`AnyValue::Object`]: super::AnyValue::Object

use std::fmt;
use std::ops::Index;

use indexmap::IndexMap;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::AnyValue;

/// Up to this many members an object is a list searched in order: no hashing and one
/// allocation, which is what most event payloads need. A bigger one gets a hash index
/// (SipHash with a random key: the keys come from clients).
const SMALL: usize = 8;

/// The members of an [`AnyValue::Object`], in the order they were written. Writing a key
/// again replaces its value and keeps its place, as `JSON.parse` does.
///
/// ```
/// use gateway_core::socketio::{AnyMap, AnyValue};
///
/// let mut map = AnyMap::new();
/// map.insert("name", AnyValue::String("ada".into()));
/// map.insert("age", AnyValue::Number(36.into()));
/// map.insert("name", AnyValue::String("Ada".into()));
/// assert_eq!(map.keys().collect::<Vec<_>>(), ["name", "age"]);
/// assert_eq!(map["name"], AnyValue::String("Ada".into()));
/// assert_eq!(map.remove("name"), Some(AnyValue::String("Ada".into())));
/// assert_eq!(map.len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct AnyMap(Repr);

#[derive(Clone)]
enum Repr {
    Small(Vec<(String, AnyValue)>),
    Large(Box<IndexMap<String, AnyValue>>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Small(Vec::new())
    }
}

impl AnyMap {
    /// An empty map (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `capacity` members.
    pub fn with_capacity(capacity: usize) -> Self {
        if capacity > SMALL {
            Self(Repr::Large(Box::new(IndexMap::with_capacity(capacity))))
        } else {
            Self(Repr::Small(Vec::with_capacity(capacity)))
        }
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => v.len(),
            Repr::Large(m) => m.len(),
        }
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&AnyValue> {
        match &self.0 {
            Repr::Small(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Repr::Large(m) => m.get(key),
        }
    }

    /// The value of `key`, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut AnyValue> {
        match &mut self.0 {
            Repr::Small(v) => v.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            Repr::Large(m) => m.get_mut(key),
        }
    }

    /// Whether `key` is a member.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`: a new key goes last, a known one keeps its place. Returns
    /// the value it replaced.
    pub fn insert(&mut self, key: impl Into<String>, value: AnyValue) -> Option<AnyValue> {
        let key = key.into();
        match &mut self.0 {
            Repr::Small(v) => {
                if let Some((_, old)) = v.iter_mut().find(|(k, _)| *k == key) {
                    return Some(std::mem::replace(old, value));
                }
                if v.len() < SMALL {
                    v.push((key, value));
                    return None;
                }
                let mut large = IndexMap::with_capacity(SMALL * 2);
                large.extend(v.drain(..));
                large.insert(key, value);
                self.0 = Repr::Large(Box::new(large));
                None
            }
            Repr::Large(m) => m.insert(key, value),
        }
    }

    /// Removes `key`, keeping the order of the others; its value if it was there.
    pub fn remove(&mut self, key: &str) -> Option<AnyValue> {
        match &mut self.0 {
            Repr::Small(v) => {
                let at = v.iter().position(|(k, _)| k == key)?;
                Some(v.remove(at).1)
            }
            Repr::Large(m) => m.shift_remove(key),
        }
    }

    /// The members, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.0 {
            Repr::Small(v) => IterRepr::Small(v.iter()),
            Repr::Large(m) => IterRepr::Large(m.iter()),
        })
    }

    /// The members, in order, with their values to change.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(match &mut self.0 {
            Repr::Small(v) => IterMutRepr::Small(v.iter_mut()),
            Repr::Large(m) => IterMutRepr::Large(m.iter_mut()),
        })
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.iter().map(|(k, _)| k.as_str())
    }

    /// The values, in order.
    pub fn values(&self) -> impl Iterator<Item = &AnyValue> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

/// Equal when both have the same members with equal values, in any order (like a
/// JavaScript deep-equal).
impl PartialEq for AnyMap {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for AnyMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// `map["key"]`; panics when `key` is not a member (use [`AnyMap::get`] otherwise).
impl Index<&str> for AnyMap {
    type Output = AnyValue;

    fn index(&self, key: &str) -> &AnyValue {
        match self.get(key) {
            Some(v) => v,
            None => panic!("AnyMap: no member {key:?}"),
        }
    }
}

impl<K: Into<String>> FromIterator<(K, AnyValue)> for AnyMap {
    fn from_iter<I: IntoIterator<Item = (K, AnyValue)>>(iter: I) -> Self {
        let mut map = AnyMap::new();
        map.extend(iter);
        map
    }
}

impl<K: Into<String>> Extend<(K, AnyValue)> for AnyMap {
    fn extend<I: IntoIterator<Item = (K, AnyValue)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl Serialize for AnyMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// The members of an [`AnyMap`], in order ([`AnyMap::iter`]).
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Small(std::slice::Iter<'a, (String, AnyValue)>),
    Large(indexmap::map::Iter<'a, String, AnyValue>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a AnyValue);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(it) => it.next().map(|(k, v)| (k, v)),
            IterRepr::Large(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Small(it) => it.size_hint(),
            IterRepr::Large(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// The members of an [`AnyMap`], in order, values mutable ([`AnyMap::iter_mut`]).
pub struct IterMut<'a>(IterMutRepr<'a>);

enum IterMutRepr<'a> {
    Small(std::slice::IterMut<'a, (String, AnyValue)>),
    Large(indexmap::map::IterMut<'a, String, AnyValue>),
}

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a String, &'a mut AnyValue);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterMutRepr::Small(it) => it.next().map(|(k, v)| (&*k, v)),
            IterMutRepr::Large(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterMutRepr::Small(it) => it.size_hint(),
            IterMutRepr::Large(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for IterMut<'_> {}

/// The members of an [`AnyMap`], in order, taken out of it.
pub struct IntoIter(IntoIterRepr);

enum IntoIterRepr {
    Small(std::vec::IntoIter<(String, AnyValue)>),
    Large(indexmap::map::IntoIter<String, AnyValue>),
}

impl Iterator for IntoIter {
    type Item = (String, AnyValue);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IntoIterRepr::Small(it) => it.next(),
            IntoIterRepr::Large(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IntoIterRepr::Small(it) => it.size_hint(),
            IntoIterRepr::Large(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for AnyMap {
    type Item = (String, AnyValue);
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter(match self.0 {
            Repr::Small(v) => IntoIterRepr::Small(v.into_iter()),
            Repr::Large(m) => IntoIterRepr::Large(m.into_iter()),
        })
    }
}

impl<'a> IntoIterator for &'a AnyMap {
    type Item = (&'a String, &'a AnyValue);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut AnyMap {
    type Item = (&'a String, &'a mut AnyValue);
    type IntoIter = IterMut<'a>;

    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(i: u64) -> AnyValue {
        AnyValue::Number(i.into())
    }

    fn is_large(map: &AnyMap) -> bool {
        matches!(map.0, Repr::Large(_))
    }

    #[test]
    fn order_and_rewrites_hold_across_the_switch_to_an_index() {
        let mut map = AnyMap::new();
        for i in 0..20 {
            assert_eq!(map.insert(format!("k{i}"), n(i)), None);
            assert_eq!(is_large(&map), i as usize >= SMALL);
            // A rewrite keeps the first place, whichever form the map has.
            assert_eq!(
                map.insert("k0", n(100 + i)),
                Some(n(if i == 0 { 0 } else { 99 + i }))
            );
        }
        let keys: Vec<_> = map.keys().collect();
        let expected: Vec<_> = (0..20).map(|i| format!("k{i}")).collect();
        assert_eq!(keys, expected);
        assert_eq!(map["k0"], n(119));
        assert_eq!(map.remove("k5"), Some(n(5)));
        assert_eq!(map.remove("k5"), None);
        assert_eq!(map.keys().nth(5), Some("k6"));
        assert_eq!(map.len(), 19);
        for (_, v) in &mut map {
            *v = AnyValue::Null;
        }
        assert!(map.values().all(|v| *v == AnyValue::Null));
    }

    #[test]
    fn a_value_stays_small() {
        // An object is a pointer, a length and a capacity, like an array.
        assert!(std::mem::size_of::<AnyValue>() <= 40);
    }

    #[test]
    fn removing_from_a_small_map_keeps_the_order() {
        let mut map: AnyMap = [("a", n(1)), ("b", n(2)), ("c", n(3))]
            .into_iter()
            .collect();
        assert_eq!(map.remove("b"), Some(n(2)));
        assert_eq!(
            map.into_iter().collect::<Vec<_>>(),
            [("a".into(), n(1)), ("c".into(), n(3))]
        );
    }

    #[test]
    fn equality_ignores_the_order_and_the_form() {
        let small: AnyMap = [("a", n(1)), ("b", n(2))].into_iter().collect();
        let reversed: AnyMap = [("b", n(2)), ("a", n(1))].into_iter().collect();
        assert_eq!(small, reversed);
        let mut large = AnyMap::with_capacity(SMALL + 1);
        large.insert("a", n(1));
        large.insert("b", n(2));
        assert!(is_large(&large));
        assert_eq!(small, large);
        large.insert("b", n(3));
        assert_ne!(small, large);
    }

    #[test]
    fn json_objects_read_as_json_parse_reads_them() {
        // A repeated key keeps its first place and its last value.
        let v: AnyValue = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"a":3,"b":2}"#);
        let members: Vec<String> = (0..30).map(|i| format!(r#""m{i}":{i}"#)).collect();
        let text = format!("{{{}}}", members.join(","));
        let v: AnyValue = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
        assert_eq!(v.get("m29"), Some(&n(29)));
    }
}
