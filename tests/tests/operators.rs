//! Broadcast targets as socket.io users write them: `to([..])` with several rooms, socket
//! ids as rooms, and the namespace's own `volatile`, `emit_args` and `fetch_sockets`.

use std::time::Duration;

use gateway_runtime::socketio::SocketIo;
use gateway_runtime::testing::{serve_ephemeral, TestClient};
use serde_json::json;

const T: Duration = Duration::from_secs(3);
const NONE: Duration = Duration::from_millis(200);

async fn setup() -> (SocketIo, [TestClient; 3]) {
    let io = SocketIo::builder().build();
    io.of("/").on_connection(|socket| async move {
        socket.on("join", |socket, args, ack| async move {
            let room: String = args.get(0).unwrap_or_default();
            socket.join(room);
            if let Some(ack) = ack {
                let _ = ack.send(&(socket.id().as_str(),));
            }
        });
    });
    let addr = serve_ephemeral(io.router()).await.unwrap().0;
    let mut clients = Vec::new();
    for room in ["a", "b", "c"] {
        let mut c = TestClient::connect(addr, "/socket.io/", "/", None, "")
            .await
            .unwrap();
        c.emit_with_ack("join", &(room,), T).await.unwrap();
        clients.push(c);
    }
    (io, clients.try_into().ok().unwrap())
}

#[tokio::test]
async fn several_rooms_at_once() {
    let (io, [mut a, mut b, mut c]) = setup().await;
    // Sockets in a or b get it once; c does not.
    io.of("/").to(["a", "b"]).emit("news", &1).unwrap();
    assert_eq!(
        a.next_event(T).await.unwrap(),
        ("news".into(), vec![json!(1)])
    );
    assert_eq!(
        b.next_event(T).await.unwrap(),
        ("news".into(), vec![json!(1)])
    );
    assert!(c.next_event(NONE).await.is_none());
    // `except` with a list, and a Vec of Strings.
    io.of("/")
        .except(vec![String::from("a"), String::from("c")])
        .emit("only-b", &2)
        .unwrap();
    assert_eq!(b.next_event(T).await.unwrap().0, "only-b");
    assert!(a.next_event(NONE).await.is_none());
    assert!(c.next_event(NONE).await.is_none());
}

#[tokio::test]
async fn socket_ids_are_rooms_and_the_namespace_has_the_shortcuts() {
    let (io, [mut a, mut b, mut c]) = setup().await;
    let ns = io.of("/");
    let sockets = ns.fetch_sockets().await.unwrap();
    assert_eq!(sockets.len(), 3);
    let first = sockets
        .iter()
        .find(|s| s.rooms.iter().any(|r| &**r == "a"))
        .unwrap()
        .id;
    ns.to(first).emit("direct", &3).unwrap();
    assert_eq!(a.next_event(T).await.unwrap().0, "direct");
    assert!(b.next_event(NONE).await.is_none());
    // Zero arguments, to everybody.
    ns.emit_args("tick", &()).unwrap();
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(client.next_event(T).await.unwrap(), ("tick".into(), vec![]));
    }
    // Volatile goes to sockets with nothing waiting (all of them here).
    ns.volatile().emit("v", &4).unwrap();
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(client.next_event(T).await.unwrap().0, "v");
    }
}

/// socket.io's `socket.rooms` lists the socket's own room first; `socket.data` is changed
/// in place (`data_mut`).
#[tokio::test]
async fn own_room_first_and_per_socket_data_changed_in_place() {
    #[derive(Clone, Default)]
    struct Counter(u32);
    let io = SocketIo::builder().build();
    io.of("/").on_connection(|socket| async move {
        socket.join("lobby");
        socket.on("count", |socket, _args, ack| async move {
            let n = socket.data_mut(|c: &mut Counter| {
                c.0 += 1;
                c.0
            });
            let rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
            if let Some(ack) = ack {
                let _ = ack.send(&(n, rooms, socket.id().as_str()));
            }
        });
    });
    let addr = serve_ephemeral(io.router()).await.unwrap().0;
    let mut c = TestClient::connect(addr, "/socket.io/", "/", None, "")
        .await
        .unwrap();
    let first = c.emit_with_ack("count", &(), T).await.unwrap();
    assert_eq!(first[0], json!(1));
    assert_eq!(first[1], json!([first[2].clone(), json!("lobby")]));
    let second = c.emit_with_ack("count", &(), T).await.unwrap();
    assert_eq!(second[0], json!(2));
}
