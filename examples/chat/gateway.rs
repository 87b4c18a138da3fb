//! The chat gateway: rooms, validated messages acknowledged with their id, volatile
//! typing indicators, and connection-time authentication.

use gateway_runtime::prelude::*;

use crate::dto::{ChatMessage, Presence, RoomRequest, SendMessage, Sent, User};
use crate::events::ChatEvents;
use crate::store::MessageStore;

/// Rooms one socket may be in at once.
const ROOMS_PER_SOCKET: usize = 20;

/// Logs every failure and answers with NestJS's `exception` payload.
#[injectable]
pub struct ChatErrors;

impl ExceptionFilter for ChatErrors {
    async fn catch(&self, exception: Exception, mut host: FilterHost<'_>) {
        if !matches!(exception, Exception::Ws(_)) {
            tracing::error!(event = host.ctx.event(), "chat handler failed: {exception}");
        }
        let payload = gateway_runtime::app::exception_payload(&exception, host.ctx);
        match host.take_ack() {
            Some(ack) => {
                let _ = ack.send(&(payload,));
            }
            None => {
                let _ = host.ctx.socket().emit("exception", &payload);
            }
        }
    }
}

#[gateway(namespace = "/chat", events = ChatEvents)]
#[use_connection_guards(JwtGuard)]
#[use_guards(JwtGuard, Throttler)]
#[use_pipes(ValidationPipe)]
#[use_filters(ChatErrors)]
pub struct ChatGateway {
    store: Arc<MessageStore>,
    #[websocket_server]
    server: Namespace,
}

#[gateway]
impl ChatGateway {
    /// Joins a room (at most 20 at once); acknowledged with its recent history.
    #[subscribe_message("join")]
    fn join(
        &self,
        #[message_body] req: RoomRequest,
        #[connected_socket] client: Socket,
        #[claims] user: User,
    ) -> Result<Vec<ChatMessage>, WsException> {
        if !client.in_room(&req.room) && client.room_count() >= ROOMS_PER_SOCKET {
            return Err(WsException::new(format!(
                "at most {ROOMS_PER_SOCKET} rooms at once: leave one first"
            )));
        }
        client.join(req.room.as_str());
        let history = self.store.history(&req.room);
        let _ = ChatEvents::emit(&client.to(req.room.as_str())).user_joined(&Presence {
            room: req.room,
            user: user.sub,
        });
        Ok(history)
    }

    /// Leaves a room.
    #[subscribe_message("leave")]
    fn leave(
        &self,
        #[message_body] req: RoomRequest,
        #[connected_socket] client: Socket,
        #[claims] user: User,
    ) -> bool {
        client.leave(&req.room);
        let _ = ChatEvents::emit(&self.server.to(req.room.as_str())).user_left(&Presence {
            room: req.room,
            user: user.sub,
        });
        true
    }

    /// Sends a message to a room the sender is in (5 per second at most); acknowledged
    /// with the message id.
    #[subscribe_message("send-message")]
    #[throttle(limit = 5, ttl = 1000)]
    fn send(
        &self,
        #[message_body] dto: SendMessage,
        #[connected_socket] client: Socket,
        #[claims] user: User,
    ) -> Result<Sent, WsException> {
        if !client.in_room(&dto.room) {
            return Err(WsException::new(format!(
                "join `{}` before writing to it",
                dto.room
            )));
        }
        let message = self.store.save(&dto.room, &user.sub, &dto.text);
        let _ = ChatEvents::emit(&client.to(dto.room.as_str())).new_message(&message);
        Ok(Sent { id: message.id })
    }

    /// Typing indicators: volatile, dropped for clients that are behind.
    #[subscribe_message("typing")]
    fn typing(
        &self,
        #[message_body] req: RoomRequest,
        #[connected_socket] client: Socket,
        #[claims] user: User,
    ) {
        let _ =
            ChatEvents::emit(&client.to(req.room.as_str()).volatile()).someone_typing(&Presence {
                room: req.room,
                user: user.sub,
            });
    }
}

impl OnGatewayConnection for ChatGateway {
    async fn handle_connection(&self, client: &Socket) -> Result<(), Exception> {
        tracing::info!(socket = %client.id(), "connected to /chat");
        Ok(())
    }
}

impl OnGatewayDisconnect for ChatGateway {
    async fn handle_disconnect(
        &self,
        client: &Socket,
        reason: DisconnectReason,
    ) -> Result<(), Exception> {
        tracing::info!(socket = %client.id(), %reason, "left /chat");
        Ok(())
    }
}
