// The events of namespace "/chat" (`ChatEvents`), generated from their Rust declaration: do not edit.

export type RoomRequest = { 
/**
 * The room name, 1 to 64 characters.
 */
room: string, };

export type ChatMessage = { 
/**
 * Increasing with each message of the server.
 */
id: number, 
/**
 * The room it was posted in.
 */
room: string, 
/**
 * Who posted it.
 */
user: string, 
/**
 * The text.
 */
text: string, 
/**
 * When it was posted, in milliseconds since the epoch.
 */
at: number, };

export type SendMessage = { 
/**
 * The room, 1 to 64 characters.
 */
room: string, 
/**
 * The text, 1 to 2000 characters.
 */
text: string, };

export type Sent = { 
/**
 * The id of the stored message.
 */
id: number, };

export type Presence = { 
/**
 * The room.
 */
room: string, 
/**
 * The user name.
 */
user: string, };

/** An error from the server (NestJS's `exception` payload, or a `WsException` object). */
export type ErrorResponse = {
  status?: "error";
  message: string;
  errors?: Array<{ field: string; constraints: Array<string>; messages?: Array<string> }>;
  cause?: { pattern: string; data?: unknown };
  [key: string]: unknown;
};

/** Events the server emits on "/chat". */
export interface ServerToClientEvents {
  /** A message posted in a room the client is in. */
  "new-message": (message: ChatMessage) => void;
  /** Someone joined a room the client is in. */
  "user-joined": (presence: Presence) => void;
  /** Someone left a room the client is in. */
  "user-left": (presence: Presence) => void;
  /** Someone is typing in a room the client is in (volatile: dropped for clients that are behind). */
  "typing": (presence: Presence) => void;
  /** An exception raised while handling an event (NestJS's `exception` event). */
  "exception": (error: ErrorResponse) => void;
}

/** Events the client emits on "/chat". */
export interface ClientToServerEvents {
  /** Joins a room (at most 20 at once); acknowledged with its recent history. */
  "join": (request: RoomRequest, callback: (response: Array<ChatMessage> | ErrorResponse) => void) => void;
  /** Leaves a room. */
  "leave": (request: RoomRequest, callback: (response: boolean | ErrorResponse) => void) => void;
  /** Posts a message in a room the sender is in (5 per second at most); acknowledged with the message id. */
  "send-message": (message: SendMessage, callback: (response: Sent | ErrorResponse) => void) => void;
  /** Tells the room the sender is typing. */
  "typing": (request: RoomRequest) => void;
}

/** The namespace these events belong to. */
export const NAMESPACE = "/chat";
