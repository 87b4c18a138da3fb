//! The default, single-process adapter.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use super::{Adapter, BroadcastOptions, Room};
use crate::engine::Sid;

/// Rooms kept in memory. Each socket's own id room is implicit (not stored), so an idle
/// socket costs the adapter nothing.
#[derive(Debug, Default)]
pub struct MemoryAdapter {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    rooms: HashMap<Room, HashSet<Sid>>,
    sids: HashMap<Sid, HashSet<Room>>,
}

impl MemoryAdapter {
    /// An empty adapter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a local socket is in `room`.
    pub fn has_room(&self, room: &str) -> bool {
        self.read().rooms.contains_key(room)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Adapter for MemoryAdapter {
    fn add_all(&self, sid: Sid, rooms: &[Room]) {
        let mut s = self.write();
        for room in rooms {
            if Sid::parse(room) == Some(sid) {
                continue; // the implicit own-id room
            }
            s.rooms.entry(room.clone()).or_default().insert(sid);
            s.sids.entry(sid).or_default().insert(room.clone());
        }
    }

    fn del(&self, sid: Sid, room: &str) {
        let mut s = self.write();
        if let Some(set) = s.rooms.get_mut(room) {
            set.remove(&sid);
            if set.is_empty() {
                s.rooms.remove(room);
            }
        }
        if let Some(set) = s.sids.get_mut(&sid) {
            set.remove(room);
            if set.is_empty() {
                s.sids.remove(&sid);
            }
        }
    }

    fn del_all(&self, sid: Sid) {
        let mut s = self.write();
        if let Some(rooms) = s.sids.remove(&sid) {
            for room in rooms {
                if let Some(set) = s.rooms.get_mut(&room) {
                    set.remove(&sid);
                    if set.is_empty() {
                        s.rooms.remove(&room);
                    }
                }
            }
        }
    }

    fn socket_rooms(&self, sid: Sid) -> Vec<Room> {
        self.read()
            .sids
            .get(&sid)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn socket_room_count(&self, sid: Sid) -> usize {
        self.read().sids.get(&sid).map_or(0, |r| r.len())
    }

    fn socket_in_room(&self, sid: Sid, room: &str) -> bool {
        self.read().sids.get(&sid).is_some_and(|r| r.contains(room))
    }

    fn for_each_target(
        &self,
        opts: &BroadcastOptions,
        all: &mut dyn Iterator<Item = Sid>,
        f: &mut dyn FnMut(Sid),
    ) {
        let s = self.read();
        let excluded = |sid: &Sid| {
            opts.except.iter().any(|room| {
                Sid::parse(room) == Some(*sid)
                    || s.rooms.get(room).is_some_and(|set| set.contains(sid))
            })
        };
        if opts.rooms.is_empty() {
            for sid in all {
                if !excluded(&sid) {
                    f(sid);
                }
            }
            return;
        }
        let mut seen: HashSet<Sid> = HashSet::new();
        for room in &opts.rooms {
            let members = s.rooms.get(room).into_iter().flatten().copied();
            let own = Sid::parse(room);
            for sid in members.chain(own) {
                if !excluded(&sid) && seen.insert(sid) {
                    f(sid);
                }
            }
        }
    }

    fn local_rooms(&self) -> HashSet<Room> {
        self.read().rooms.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(a: &MemoryAdapter, opts: &BroadcastOptions, all: &[Sid]) -> Vec<Sid> {
        let mut out = Vec::new();
        a.for_each_target(opts, &mut all.iter().copied(), &mut |s| out.push(s));
        out.sort();
        out
    }

    #[test]
    fn rooms_except_and_id_rooms() {
        let a = MemoryAdapter::new();
        let (x, y, z) = (Sid::random(), Sid::random(), Sid::random());
        let r1: Room = "r1".into();
        let r2: Room = "r2".into();
        a.add_all(x, &[r1.clone(), r2.clone()]);
        a.add_all(y, std::slice::from_ref(&r1));
        let all = [x, y, z];
        let mut both = vec![x, y];
        both.sort();
        let opts = BroadcastOptions {
            rooms: vec![r1.clone(), r2.clone()],
            ..Default::default()
        };
        assert_eq!(targets(&a, &opts, &all), both);
        let opts = BroadcastOptions {
            rooms: vec![r1.clone()],
            except: vec![r2.clone()],
            ..Default::default()
        };
        assert_eq!(targets(&a, &opts, &all), vec![y]);
        let opts = BroadcastOptions {
            rooms: vec![z.as_str().into()],
            ..Default::default()
        };
        assert_eq!(targets(&a, &opts, &all), vec![z]);
        let opts = BroadcastOptions {
            except: vec![x.as_str().into()],
            ..Default::default()
        };
        assert_eq!(targets(&a, &opts, &all).len(), 2);
        a.del(x, "r1");
        assert_eq!(a.socket_rooms(x), vec![r2.clone()]);
        a.del_all(x);
        assert!(a.socket_rooms(x).is_empty());
        assert_eq!(a.local_rooms(), HashSet::from([r1]));
    }
}
