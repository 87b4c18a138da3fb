//! An in-memory message store keeping the last messages of each room.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::dto::ChatMessage;

const HISTORY: usize = 50;

/// Messages by room.
#[derive(Default)]
pub struct MessageStore {
    next_id: AtomicU64,
    rooms: Mutex<HashMap<String, VecDeque<ChatMessage>>>,
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
        let history = rooms.entry(room.to_string()).or_default();
        history.push_back(message.clone());
        if history.len() > HISTORY {
            history.pop_front();
        }
        message
    }

    /// The last messages of `room`, oldest first.
    pub fn history(&self, room: &str) -> Vec<ChatMessage> {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms
            .get(room)
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }
}
