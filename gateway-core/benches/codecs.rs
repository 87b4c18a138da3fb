//! Micro-benchmarks of the codecs on the hot paths of the server:
//! Engine.IO long-polling payloads, the Socket.IO decoder (header + arguments) for small,
//! large and binary events, the encoder for a broadcast packet, and WebSocket framing.
//!
//! ```text
//! cargo bench -p gateway-core --bench codecs
//! ```

use bytes::Bytes;
use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use gateway_core::engineio::{decode_payload, Packet, PayloadEncoder};
use gateway_core::socketio::{AnyValue, Args, Encoder, Payload, RawPacket};

/// Counts allocations too: divan prints them per iteration next to the times.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

// ---- inputs ------------------------------------------------------------------------------

/// What a client sends in the echo benchmark.
const SMALL_EVENT: &str =
    r#"242["echo",{"client":17,"seq":4242,"text":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]"#;

/// A chat-like event with a ~16 KiB argument (an array of 100 objects).
fn large_event_text() -> String {
    let items: Vec<String> = (0..100)
        .map(|i| {
            format!(
                r#"{{"id":{i},"user":"user-{i}","text":"message number {i} with some text in it to make it longer than a word","tags":["a","b","c"],"score":{}.5,"seen":true}}"#,
                i * 3
            )
        })
        .collect();
    format!(
        r#"27["history",{{"room":"lobby","items":[{}]}}]"#,
        items.join(",")
    )
}

/// A binary event header and its attachment (a 4 KiB upload).
const BINARY_EVENT: &str =
    r#"51-["upload",{"name":"avatar.png","data":{"_placeholder":true,"num":0}}]"#;

/// A long-polling body with 10 text messages and 2 binary ones.
fn polling_body() -> Vec<u8> {
    let mut enc = PayloadEncoder::new();
    for i in 0..10 {
        enc.push_text(
            format!(r#"42["chat",{{"seq":{i},"text":"hello from the polling transport"}}]"#)
                .as_bytes(),
        );
        if i % 5 == 4 {
            enc.push_binary(&[7u8; 512]);
        }
    }
    enc.finish()
}

// ---- Engine.IO -----------------------------------------------------------------------------

#[divan::bench_group]
mod engineio {
    use super::*;

    #[divan::bench]
    fn decode_text_packet(bencher: Bencher) {
        let frame = format!("4{SMALL_EVENT}");
        bencher
            .counter(BytesCount::of_str(&frame))
            .bench(|| Packet::decode_text(black_box(&frame)).unwrap().kind());
    }

    #[divan::bench]
    fn decode_polling_payload(bencher: Bencher) {
        let body = polling_body();
        bencher.counter(BytesCount::of_slice(&body)).bench(|| {
            let mut n = 0;
            for packet in decode_payload(black_box(&body)) {
                black_box(packet.unwrap());
                n += 1;
            }
            n
        });
    }

    #[divan::bench]
    fn encode_polling_payload(bencher: Bencher) {
        let texts: Vec<String> = (0..10)
            .map(|i| {
                format!(r#"42["chat",{{"seq":{i},"text":"hello from the polling transport"}}]"#)
            })
            .collect();
        let binary = [7u8; 512];
        bencher
            .counter(BytesCount::of_slice(&polling_body()))
            .bench(|| {
                let mut enc = PayloadEncoder::new();
                for (i, t) in texts.iter().enumerate() {
                    enc.push_text(black_box(t.as_bytes()));
                    if i % 5 == 4 {
                        enc.push_binary(black_box(&binary));
                    }
                }
                enc.finish()
            });
    }
}

// ---- Socket.IO decoding ----------------------------------------------------------------------

/// What the server does with an incoming event: read the header (checking the JSON),
/// then split the arguments.
fn decode_event(text: &str) -> Args {
    let raw = RawPacket::decode(text).unwrap();
    Args::parse_event(Bytes::copy_from_slice(raw.data.as_bytes())).unwrap()
}

/// The same with the header-only decoder (the JSON is read once, by the argument parser).
fn decode_event_once(text: &str) -> Args {
    let raw = RawPacket::decode_header(text).unwrap();
    Args::parse_event(Bytes::copy_from_slice(raw.data.as_bytes())).unwrap()
}

#[divan::bench_group]
mod socketio_decode {
    use super::*;

    #[divan::bench]
    fn small_event(bencher: Bencher) {
        bencher
            .counter(BytesCount::of_str(SMALL_EVENT))
            .bench(|| decode_event(black_box(SMALL_EVENT)).len());
    }

    #[divan::bench]
    fn small_event_header_only(bencher: Bencher) {
        bencher
            .counter(BytesCount::of_str(SMALL_EVENT))
            .bench(|| decode_event_once(black_box(SMALL_EVENT)).len());
    }

    #[divan::bench]
    fn small_event_to_any_value(bencher: Bencher) {
        // The echo handler of bench_server takes its argument as an AnyValue, which the
        // direct JSON reader builds.
        bencher.counter(BytesCount::of_str(SMALL_EVENT)).bench(|| {
            decode_event_once(black_box(SMALL_EVENT))
                .get_any(0)
                .unwrap()
        });
    }

    /// The same value through serde's visitor (what a nested `AnyValue` field costs).
    #[divan::bench]
    fn small_event_to_any_value_via_serde(bencher: Bencher) {
        bencher.counter(BytesCount::of_str(SMALL_EVENT)).bench(|| {
            decode_event_once(black_box(SMALL_EVENT))
                .get::<AnyValue>(0)
                .unwrap()
        });
    }

    #[divan::bench]
    fn large_event(bencher: Bencher) {
        let text = large_event_text();
        bencher
            .counter(BytesCount::of_str(&text))
            .bench(|| decode_event(black_box(&text)).len());
    }

    #[divan::bench]
    fn large_event_header_only(bencher: Bencher) {
        let text = large_event_text();
        bencher
            .counter(BytesCount::of_str(&text))
            .bench(|| decode_event_once(black_box(&text)).len());
    }

    #[divan::bench]
    fn large_event_to_any_value(bencher: Bencher) {
        let text = large_event_text();
        bencher
            .counter(BytesCount::of_str(&text))
            .bench(|| decode_event_once(black_box(&text)).get_any(0).unwrap());
    }

    #[divan::bench]
    fn large_event_to_any_value_via_serde(bencher: Bencher) {
        let text = large_event_text();
        bencher.counter(BytesCount::of_str(&text)).bench(|| {
            decode_event_once(black_box(&text))
                .get::<AnyValue>(0)
                .unwrap()
        });
    }

    #[divan::bench]
    fn binary_event(bencher: Bencher) {
        let attachment = Bytes::from(vec![0xA5u8; 4096]);
        bencher
            .counter(BytesCount::new(BINARY_EVENT.len() + attachment.len()))
            .bench(|| {
                let mut args = decode_event(black_box(BINARY_EVENT));
                assert!(args.placeholders_within(1));
                args.set_attachments(vec![attachment.clone()]);
                args.get::<AnyValue>(0).unwrap()
            });
    }
}

// ---- Socket.IO encoding ----------------------------------------------------------------------

#[divan::bench_group]
mod socketio_encode {
    use super::*;

    /// The broadcast of bench_server: `bcast` with one small value, encoded once for all
    /// the receivers.
    #[divan::bench]
    fn broadcast_event(bencher: Bencher) {
        let value: AnyValue = decode_event_once(SMALL_EVENT).get(0).unwrap();
        bencher.bench(|| Encoder::event("/", None, "bcast", black_box(&(&value,))).unwrap());
    }

    /// A broadcast forwarding the received arguments untouched.
    #[divan::bench]
    fn broadcast_forwarded_args(bencher: Bencher) {
        let args = decode_event_once(SMALL_EVENT);
        bencher.bench(|| Encoder::event("/", None, "bcast", black_box(&args)).unwrap());
    }

    /// A large broadcast (the ~16 KiB value of the large event).
    #[divan::bench]
    fn broadcast_large_event(bencher: Bencher) {
        let text = large_event_text();
        let value: AnyValue = decode_event_once(&text).get(0).unwrap();
        bencher
            .counter(BytesCount::of_str(&text))
            .bench(|| Encoder::event("/", None, "bcast", black_box(&(&value,))).unwrap());
    }

    /// The echo acknowledgement (`43<id>[<value>]`) as bench_server writes it: the
    /// direct JSON writer, then the header in front of the value.
    #[divan::bench]
    fn echo_ack(bencher: Bencher) {
        let value: AnyValue = decode_event_once(SMALL_EVENT).get_any(0).unwrap();
        bencher.bench(|| {
            Encoder::ack_in_place("/", 42, Payload::from_any(black_box(&value))).unwrap()
        });
    }

    /// The same acknowledgement through serde's serializer.
    #[divan::bench]
    fn echo_ack_via_serde(bencher: Bencher) {
        let value: AnyValue = decode_event_once(SMALL_EVENT).get_any(0).unwrap();
        bencher.bench(|| Encoder::ack("/", 42, black_box(&(&value,))).unwrap());
    }
}

// ---- WebSocket framing ---------------------------------------------------------------------

/// `count` masked client text frames of `text`, back to back (what one read may hold).
fn client_frames(text: &str, count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..count {
        let mut header = Vec::new();
        gateway_core::websocket::encode_header(
            &mut header,
            gateway_core::websocket::FrameKind::Text,
            text.len(),
        );
        header[1] |= 0x80;
        out.extend_from_slice(&header);
        let mask = [0x12, 0x34, 0x56, 0x78];
        out.extend_from_slice(&mask);
        let mut payload = text.as_bytes().to_vec();
        gateway_core::websocket::apply_mask(&mut payload, mask);
        out.extend_from_slice(&payload);
    }
    out
}

#[divan::bench_group]
mod websocket {
    use super::*;
    use bytes::BytesMut;
    use gateway_core::websocket::{encode_header, FrameKind, FrameReader};

    /// 64 echo-sized frames read from one buffer (unmasking included).
    #[divan::bench]
    fn read_64_small_frames(bencher: Bencher) {
        let input = client_frames(&SMALL_EVENT[1..], 64);
        bencher
            .counter(BytesCount::new(input.len()))
            .with_inputs(|| BytesMut::from(&input[..]))
            .bench_local_values(|mut buf| {
                let mut reader = FrameReader::new(1 << 20);
                let mut n = 0;
                while let Ok(Some(m)) = reader.next_message(&mut buf) {
                    black_box(m);
                    n += 1;
                }
                n
            });
    }

    /// One ~16 KiB frame (the large event).
    #[divan::bench]
    fn read_large_frame(bencher: Bencher) {
        let input = client_frames(&large_event_text(), 1);
        bencher
            .counter(BytesCount::new(input.len()))
            .with_inputs(|| BytesMut::from(&input[..]))
            .bench_local_values(|mut buf| FrameReader::new(1 << 20).next_message(&mut buf));
    }

    /// Framing a batch of 32 small server packets into one write buffer.
    #[divan::bench]
    fn write_32_small_frames(bencher: Bencher) {
        let packet = &SMALL_EVENT[1..];
        let mut out = Vec::with_capacity(4096);
        bencher.bench_local(|| {
            out.clear();
            for _ in 0..32 {
                encode_header(&mut out, FrameKind::Text, packet.len());
                out.extend_from_slice(packet.as_bytes());
            }
            black_box(out.len())
        });
    }
}
