//! An in-memory message store keeping the last messages of the most recently used rooms.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::dto::ChatMessage;

const HISTORY: usize = 50;
/// Rooms whose history is kept; the least recently written is forgotten first.
const ROOMS: usize = 1_000;

/// Messages by room, bounded: [`HISTORY`] messages in each of [`ROOMS`] rooms at most.
#[derive(Default)]
pub struct MessageStore {
    next_id: AtomicU64,
    rooms: Mutex<HashMap<String, Room>>,
}

#[derive(Default)]
struct Room {
    messages: VecDeque<ChatMessage>,
    /// The id of the last message written (for forgetting the least recently used room).
    last: u64,
}

impl MessageStore {
    /// Stores a message and returns it with its id.
    pub fn save(&self, room: &str, user: &str, text: &str) -> ChatMessage {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let message = ChatMessage {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            room: room.to_string(),
            user: user.to_string(),
            text: text.to_string(),
            at,
        };
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if !rooms.contains_key(room) && rooms.len() >= ROOMS {
            let oldest = rooms
                .iter()
                .min_by_key(|(_, r)| r.last)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                rooms.remove(&oldest);
            }
        }
        let history = rooms.entry(room.to_string()).or_default();
        history.last = message.id;
        history.messages.push_back(message.clone());
        if history.messages.len() > HISTORY {
            history.messages.pop_front();
        }
        message
    }

    /// The last messages of `room`, oldest first.
    pub fn history(&self, room: &str) -> Vec<ChatMessage> {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms
            .get(room)
            .map(|h| h.messages.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_and_rooms_are_bounded() {
        let store = MessageStore::default();
        for i in 0..(ROOMS + 10) {
            store.save(&format!("room-{i}"), "ada", "hi");
        }
        assert_eq!(store.rooms.lock().unwrap().len(), ROOMS);
        assert!(
            store.history("room-0").is_empty(),
            "the oldest room is forgotten"
        );
        for _ in 0..(HISTORY + 5) {
            store.save("busy", "ada", "hi");
        }
        assert_eq!(store.history("busy").len(), HISTORY);
    }
}
