//! What `to`, `within` and `except` accept: one room or several.

use super::Room;
use crate::engine::Sid;

/// One room or several, as `to`, `within` and `except` take them (socket.io's
/// `io.to(["room1", "room2"])`): a `&str`, `String`, [`Room`], a socket id ([`Sid`]: each
/// socket is in the room of its own id), or an array, slice or `Vec` of those.
///
/// ```
/// use gateway_runtime::adapter::{IntoRooms, Room};
/// fn rooms(r: impl IntoRooms) -> Vec<Room> {
///     let mut out = Vec::new();
///     r.push_rooms(&mut out);
///     out
/// }
/// assert_eq!(rooms("a").len(), 1);
/// assert_eq!(rooms(["a", "b"]).len(), 2);
/// assert_eq!(rooms(vec![String::from("a")]).len(), 1);
/// ```
pub trait IntoRooms {
    /// Appends the rooms to `out`.
    fn push_rooms(self, out: &mut Vec<Room>);
}

impl IntoRooms for &str {
    fn push_rooms(self, out: &mut Vec<Room>) {
        out.push(self.into());
    }
}

impl IntoRooms for String {
    fn push_rooms(self, out: &mut Vec<Room>) {
        out.push(self.into());
    }
}

impl IntoRooms for &String {
    fn push_rooms(self, out: &mut Vec<Room>) {
        out.push(self.as_str().into());
    }
}

impl IntoRooms for Room {
    fn push_rooms(self, out: &mut Vec<Room>) {
        out.push(self);
    }
}

impl IntoRooms for &Room {
    fn push_rooms(self, out: &mut Vec<Room>) {
        out.push(self.clone());
    }
}

impl IntoRooms for Sid {
    fn push_rooms(self, out: &mut Vec<Room>) {
        out.push(self.as_str().into());
    }
}

impl<T: IntoRooms, const N: usize> IntoRooms for [T; N] {
    fn push_rooms(self, out: &mut Vec<Room>) {
        for r in self {
            r.push_rooms(out);
        }
    }
}

impl<T: IntoRooms> IntoRooms for Vec<T> {
    fn push_rooms(self, out: &mut Vec<Room>) {
        for r in self {
            r.push_rooms(out);
        }
    }
}

impl<T: IntoRooms + Clone> IntoRooms for &[T] {
    fn push_rooms(self, out: &mut Vec<Room>) {
        for r in self {
            r.clone().push_rooms(out);
        }
    }
}

impl<T: IntoRooms + Clone> IntoRooms for &Vec<T> {
    fn push_rooms(self, out: &mut Vec<Room>) {
        self.as_slice().push_rooms(out);
    }
}
